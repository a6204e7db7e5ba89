"""A shared tracking stack on loopback: a PostgreSQL cluster and `mlflow server` backed by it.

Everything lives in one folder (default `deploy/.data/`, git-ignored): `postgres/` (the cluster),
`artifacts/` (what the server's artifact proxy stores), `postgres.password`, `stack.json` (the
ports of the last start), `mlflow.pid`, `stack.lock` (held while a start or stop runs) and the
two logs. Stopping keeps the folder, so runs, models and aliases survive a stop and a start.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg2
from psycopg2 import sql

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".data"
DEFAULT_POSTGRES_PORT = 5433
DEFAULT_MLFLOW_PORT = 5000
HOST = "127.0.0.1"
DATABASE = "mlflow"
DB_USER = "mlflow"
# PostgreSQL refuses to run as root; root starts the cluster as this system user instead.
POSTGRES_SYSTEM_USER = "postgres"
# Debian's folder of installed PostgreSQL versions, one folder each (15/bin/pg_ctl, ...).
POSTGRES_VERSIONS = Path("/usr/lib/postgresql")
STARTUP_TIMEOUT_S = 90.0
# `pg_ctl status`'s exit code when it cannot read the data folder (0: running, 3: not running).
PG_CTL_NO_ACCESS = 4
LOCK_FILE = "stack.lock"
# What `mlflow server` tells its workers the artifacts folder is: mlflow.server.constants.ARTIFACTS_DESTINATION_ENV_VAR,
# written out because importing mlflow.server takes 1.6 s.
ARTIFACTS_VARIABLE = "_MLFLOW_SERVER_ARTIFACT_DESTINATION"


class StackError(RuntimeError):
    """The stack could not be started or stopped; the message says which part and why."""


@dataclass(frozen=True)
class Ports:
    """Where the two services listen."""

    postgres: int = DEFAULT_POSTGRES_PORT
    mlflow: int = DEFAULT_MLFLOW_PORT

    def __str__(self) -> str:
        return f"{self.postgres} (PostgreSQL) and {self.mlflow} (MLflow)"


@dataclass(frozen=True)
class StackStatus:
    """What is running from one data folder."""

    data_dir: Path
    ports: Ports
    postgres_running: bool
    mlflow_running: bool

    @property
    def tracking_uri(self) -> str:
        """The URI training, evaluation and the server use: `MLFLOW_TRACKING_URI`."""
        return f"http://{HOST}:{self.ports.mlflow}"


class Stack:
    """The files of one stack's data folder, and starting and stopping what runs from it."""

    def __init__(self, data_dir: Path = DEFAULT_DATA_DIR) -> None:
        self.data_dir = data_dir.resolve()
        self.cluster = self.data_dir / "postgres"
        self.artifacts = self.data_dir / "artifacts"
        self.password_file = self.data_dir / "postgres.password"
        self.ports_file = self.data_dir / "stack.json"
        self.pid_file = self.data_dir / "mlflow.pid"
        self.postmaster_pid_file = self.cluster / "postmaster.pid"
        self.postgres_log = self.data_dir / "postgres.log"
        self.mlflow_log = self.data_dir / "mlflow.log"

    # -- public ---------------------------------------------------------------------------------

    def start(self, ports: Ports | None = None, workers: int | None = None) -> StackStatus:
        """Start PostgreSQL and the tracking server (creating the cluster on first use, the server with `workers`
        processes, 1 when None); idempotent. A call that fails or is interrupted stops what it started and puts back
        the ports saved before it. A running part keeps its port and the server its workers: asked to change either,
        the call refuses and starts nothing."""
        ports = ports or self.saved_ports()
        _check_ports(ports)
        if not self.data_dir.exists():
            # No start can be under way in a folder not yet made: any process of this stack is a stray.
            self._refuse_strays()
        running = self.status()
        # A port held by something else is named before anything starts: the tracking server would otherwise
        # fail in its log while another server on that port answered its health check.
        for name, port, up, option in (
            ("PostgreSQL", ports.postgres, running.postgres_running, "--postgres-port"),
            ("MLflow", ports.mlflow, running.mlflow_running, "--port"),
        ):
            if not up and not _free(port):
                # This stack's own strays, named as such: "in use" sent the operator looking for something else.
                self._refuse_strays()
                raise StackError(f"{HOST}:{port}, the {name} port, is already in use: choose another with {option}")
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise StackError(f"the data folder {self.data_dir} cannot be used: it is a file")
        if not (self.cluster / "PG_VERSION").exists():
            self._check_new_data_dir()
        # An existing stack's too: a folder above it made private since failed in pg_ctl's words.
        self._check_postgres_reaches_data_dir()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StackError(f"the data folder {self.data_dir} cannot be used: {err.strerror or err}") from err
        with self._locked():
            # Looked at under the lock: a start that ran meanwhile may have made the cluster or started a part (and
            # saves its ports only once both answer).
            running = self.status()
            # Under the lock only: a start under way had processes up before its files led to them.
            self._refuse_strays()
            # Only a running part's port is fixed: with PostgreSQL alone running, a new --port for the tracking
            # server (what "port in use" advises) was refused, naming as running a server that did not run.
            parts = [
                (f"{port} ({name})", port != chosen)
                for name, port, chosen, up in (
                    ("PostgreSQL", running.ports.postgres, ports.postgres, running.postgres_running),
                    ("MLflow", running.ports.mlflow, ports.mlflow, running.mlflow_running),
                )
                if up
            ]
            if any(changed for _, changed in parts):
                listening = " and ".join(part for part, _ in parts)
                raise StackError(
                    f"the stack in {self.data_dir} already runs on {'ports' if len(parts) > 1 else 'port'} {listening}; "
                    "stop it before changing ports"
                )
            self._refuse_other_workers(running, workers)
            self._refuse_other_store_port(running, ports)
            try:
                if not (self.cluster / "PG_VERSION").exists():
                    self._init_cluster()
            except OSError as err:
                raise StackError(f"the data folder {self.data_dir} cannot be used: {err.strerror or err}") from err
            # Before anything starts: a missing password file used to end a start in a traceback after PostgreSQL was up.
            self._password()
            # Saved before anything starts, so that `status` names the right ports while this call runs.
            previous = self.ports_file.read_text() if self.ports_file.exists() else None
            self.ports_file.write_text(json.dumps(asdict(ports)))
            started_postgres, started_mlflow = not running.postgres_running, False
            try:
                if started_postgres:
                    self._start_postgres(ports.postgres)
                self._ensure_database(ports.postgres)
                if not running.mlflow_running:
                    started_mlflow = True
                    self._start_mlflow(ports, workers or 1)
                # In the block: a stop while the status is read (its last step) was left undone, the stack running.
                started = self.status()
            # Ctrl-C and SIGTERM too: what this call started would otherwise run on under ports no longer saved.
            except BaseException as error:
                self._undo_start(error, started_mlflow, started_postgres, previous)
                raise
        return started

    def _undo_start(self, error: BaseException, started_mlflow: bool, started_postgres: bool, previous: str | None) -> None:
        """Stop what a failed start started and put back the ports saved before it. Every step runs even when one
        before it fails, and a step's failure is added to the start's error as a note: raised in its place, it named
        the wrong cause and skipped the steps after it (PostgreSQL left running, the new ports left saved)."""

        def restore_ports() -> None:
            if previous is None:
                self.ports_file.unlink(missing_ok=True)
            else:
                self.ports_file.write_text(previous)

        steps = [
            ("stopping the tracking server", self.stop_tracking_server, started_mlflow),
            ("stopping PostgreSQL", self.stop_postgres, started_postgres),
            ("putting back the saved ports", restore_ports, True),
        ]
        for what, step, needed in steps:
            if not needed:
                continue
            try:
                step()
            # Exception only: a second Ctrl-C still ends the cleanup (a second SIGTERM is ignored by the CLI).
            except Exception as failure:
                note = f"cleaning up after the failed start, {what} failed too: {failure}"
                if what == "stopping PostgreSQL":
                    note += f"\n(if it still runs, `{deploy_command('stop', self.data_dir)}` stops it)"
                error.add_note(note)
                if not isinstance(error, StackError):
                    # The CLI prints a StackError's notes with it; an interruption ends without a message of its own.
                    logger.error("%s", note)

    def stop(self) -> StackStatus:
        """Stop the tracking server, then PostgreSQL, and any process of this stack its files no longer lead to; the
        data folder stays."""
        if not self.data_dir.is_dir():
            self.stop_strays()
            return self.status()
        # A stack.json damaged under a running stack: its ports are read from the processes while they run.
        try:
            ports: Ports | None = self.status().ports
        except StackError:
            ports = None
        with self._locked():
            self.stop_tracking_server()
            self.stop_postgres()
            self.stop_strays()
        try:
            return self.status()
        except StackError as err:
            if ports is None:
                raise StackError(f"the stack in {self.data_dir} is stopped, but {err}") from err
            # Stopped all the same: said, not ended as a failed stop (exit code 1) once everything had stopped.
            logger.warning("%s", err)
            return StackStatus(self.data_dir, ports, postgres_running=False, mlflow_running=False)

    def stray_processes(self) -> list[psutil.Process]:
        """This stack's processes that its files no longer lead to: its data folder, cluster or pid file was removed
        under them, so `status` said stopped and `stop` left them running on ports a new start then found taken. Its
        PostgreSQL works in the cluster's folder (even a deleted one); its tracking server names the artifacts folder."""
        postgres_known, mlflow_known = self._postgres_running(), self._mlflow_pid() is not None
        strays: list[psutil.Process] = []
        for process in psutil.process_iter(["name", "ppid"]):
            try:
                if process.pid == os.getpid():
                    continue
                if not postgres_known and self._works_in_cluster(process):
                    strays.append(process)
                elif not mlflow_known and _serves_artifacts(process, self.artifacts):
                    strays.append(process)
            except psutil.Error:
                continue
        return strays

    def _refuse_strays(self) -> None:
        """Refuse to start beside processes of this stack that its files no longer lead to."""
        strays = self.stray_processes()
        if strays:
            raise StackError(
                f"{describe(strays)} started from {self.data_dir} still run, but the stack's files no longer lead to "
                f"them (the folder, the cluster or a pid file was removed): `{deploy_command('stop', self.data_dir)}` "
                "ends them"
            )

    def stop_strays(self, grace_s: float = 30.0) -> None:
        """End the processes `stray_processes` finds: the tracking server with its process group, PostgreSQL with a
        fast shutdown (pg_ctl needs the cluster's folder, which may be gone)."""
        strays = self.stray_processes()
        if not strays:
            return
        description = describe(strays)
        postgres: list[psutil.Process] = []
        groups: set[int] = set()
        for process in strays:
            try:
                if process.name() == "postgres":
                    postgres.append(process)
                else:
                    groups.add(os.getpgid(process.pid))
            except (psutil.Error, ProcessLookupError):
                continue  # ended meanwhile
        for group in groups - {os.getpgrp()}:
            _terminate_group(group)
        for process in postgres:
            with suppress(psutil.Error):
                if process.ppid() not in {other.pid for other in postgres}:  # the postmaster: it ends its backends
                    process.send_signal(signal.SIGINT)
        _, alive = psutil.wait_procs(postgres, timeout=grace_s)
        for process in alive:
            logger.warning("PostgreSQL process %d ignored the shutdown for %.0f s; killing it", process.pid, grace_s)
            with suppress(psutil.Error):
                process.kill()
        logger.info("stopped %s, which the stack's files no longer led to", description)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the data folder's lock: two starts at once on a new folder each wrote the cluster's password, and the
        one that lost the race left a password that no longer opened the cluster."""
        with (self.data_dir / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def stop_tracking_server(self) -> None:
        """Stop `mlflow server` and its workers, if running."""
        pid = self._mlflow_pid()
        if pid is not None:
            _terminate_group(pid)
        # Also a file naming no server (one killed with its workers, or a number another process has since taken).
        self.pid_file.unlink(missing_ok=True)

    def stop_postgres(self) -> None:
        """Stop PostgreSQL (fast shutdown: open sessions are rolled back), if running."""
        if self._postgres_running():
            self._pg_ctl("stop", "-m", "fast", "-w")

    def status(self) -> StackStatus:
        """Which parts run now (from their pid files and the processes behind them), and on which ports: a running
        part's own, else the saved ones."""
        postgres_running, mlflow_pid = self._postgres_running(), self._mlflow_pid()
        # stack.json removed (as its error about a damaged file advises) or replaced under a running stack named the
        # defaults: status showed a wrong MLFLOW_TRACKING_URI and a plain start failed to connect to a wrong port.
        postgres_port = self._postmaster_port() if postgres_running else None
        mlflow_port = _server_option(mlflow_pid, "--port") if mlflow_pid is not None else None
        if postgres_port is not None and mlflow_port is not None:
            # Both read from the processes: a damaged stack.json failed `status` on a stack that ran whole.
            return StackStatus(self.data_dir, Ports(postgres_port, mlflow_port), True, True)
        saved = self.saved_ports()
        ports = Ports(
            saved.postgres if postgres_port is None else postgres_port, saved.mlflow if mlflow_port is None else mlflow_port
        )
        return StackStatus(self.data_dir, ports, postgres_running, mlflow_pid is not None)

    def _refuse_other_workers(self, running: StackStatus, workers: int | None) -> None:
        """A running tracking server keeps its worker processes: a start asking for another number was ignored, so
        the operator believed the server had them."""
        pid = self._mlflow_pid() if running.mlflow_running and workers is not None else None
        serving = _server_option(pid, "--workers") if pid is not None else None
        if serving is not None and serving != workers:
            raise StackError(
                f"the tracking server in {self.data_dir} already runs with {serving} worker{'s' if serving > 1 else ''}; "
                f"stop it before changing --workers (`{deploy_command('stop', self.data_dir)}`)"
            )

    def _refuse_other_store_port(self, running: StackStatus, ports: Ports) -> None:
        """A tracking server running without its PostgreSQL keeps the store it was started with: a new
        --postgres-port (what "port in use" advises) started PostgreSQL where the server does not look, and `status`
        called the stack running while every request failed."""
        pid = self._mlflow_pid() if running.mlflow_running and not running.postgres_running else None
        serving = _store_port(pid) if pid is not None else None
        if serving is not None and serving != ports.postgres:
            raise StackError(
                f"the tracking server in {self.data_dir} keeps its store on PostgreSQL's port {serving}: start PostgreSQL "
                f"there (--postgres-port {serving}), or stop the stack before changing --postgres-port "
                f"(`{deploy_command('stop', self.data_dir)}`)"
            )

    def _postmaster_port(self) -> int | None:
        """The port the running server wrote in its lock file (its fourth line), if readable."""
        try:
            return int(self.postmaster_pid_file.read_text().split("\n")[3])
        except (OSError, ValueError, IndexError):
            return None

    def saved_ports(self) -> Ports:
        """The ports of the last start, else the defaults."""
        if not self.ports_file.exists():
            return Ports()
        try:
            ports = Ports(**json.loads(self.ports_file.read_text()))
            if not all(type(port) is int for port in (ports.postgres, ports.mlflow)):
                raise TypeError("ports must be whole numbers")
            _check_ports(ports)
        except (ValueError, TypeError, StackError) as err:
            raise StackError(f"{self.ports_file} is not the stack's saved ports ({err}): delete it to use the defaults") from err
        return ports

    def backend_store_uri(self, port: int) -> str:
        """The tracking server's backend store (the password travels in PGPASSWORD, not in the URI)."""
        return f"postgresql+psycopg2://{DB_USER}@{HOST}:{port}/{DATABASE}"

    # -- PostgreSQL -----------------------------------------------------------------------------

    def _init_cluster(self) -> None:
        # The folder is checked before the password is written: a cluster that lost its PG_VERSION (damaged, or a
        # copy cut short) had its password replaced by a new one before initdb refused the folder, so that even once
        # repaired it no longer opened. A folder left empty by an interrupted start is used.
        if self.cluster.is_dir() and any(self.cluster.iterdir()):
            raise StackError(
                f"{self.cluster} is not empty but holds no PostgreSQL cluster (its PG_VERSION is missing): it is left "
                "as it is; restore it from a backup, or move it away to start a new, empty cluster"
            )
        self.cluster.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)
        # initdb reads the superuser password from a file; the cluster's owner must be able to read it.
        handoff = self.data_dir / "initdb.password"
        handoff.write_text(password)
        handoff.chmod(0o600)
        try:
            self._own(self.cluster, handoff)
            self._postgres_command(
                "initdb",
                "--pgdata",
                str(self.cluster),
                "--username",
                DB_USER,
                "--pwfile",
                str(handoff),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-instructions",
            )
            with (self.cluster / "postgresql.conf").open("a") as conf:
                # TCP on loopback only; no Unix socket, whose path would depend on the system's run directory.
                conf.write(f"\nlisten_addresses = '{HOST}'\nunix_socket_directories = ''\n")
        # Ctrl-C and SIGTERM too: initdb writes PG_VERSION first, so a half-made cluster passed for one and every
        # later start failed on it (PostgreSQL in a crash loop on missing catalogs).
        except BaseException:
            shutil.rmtree(self.cluster, ignore_errors=True)
            self.password_file.unlink(missing_ok=True)
            raise
        finally:
            handoff.unlink(missing_ok=True)
        logger.info("created a PostgreSQL cluster in %s", self.cluster)

    def _start_postgres(self, port: int) -> None:
        stale = self._stale_postmaster_pid()
        if stale is not None:
            # PostgreSQL refuses to start while its lock file names a live process of its own user, whatever that
            # process is; the file is removed only when nothing at all works in the cluster's folder.
            workers = self._cluster_processes()
            if workers:
                raise StackError(
                    f"PostgreSQL's lock file {self.postmaster_pid_file} names process {stale}, which is not this "
                    f"cluster's server, yet processes {', '.join(map(str, workers))} still work in {self.cluster}: "
                    "stop them, then start again"
                )
            logger.warning(
                "removing %s: it names process %d, which is not this cluster's PostgreSQL (a crash or a reboot left it)",
                self.postmaster_pid_file,
                stale,
            )
            self.postmaster_pid_file.unlink(missing_ok=True)
        self.postgres_log.touch()
        self._own(self.postgres_log)
        try:
            self._pg_ctl("start", "-w", "-t", str(int(STARTUP_TIMEOUT_S)), "-l", str(self.postgres_log), "-o", f"-p {port}")
        except StackError as err:
            # Free when checked, then taken (another stack starting at the same moment): said in one line, not in the
            # log's tail of a failed bind.
            if not _free(port) and not self._cluster_processes():
                raise _taken_meanwhile("PostgreSQL", port, "--postgres-port", self.postgres_log) from err
            raise
        logger.info("PostgreSQL listens on %s:%d", HOST, port)

    def _password(self) -> str:
        """The cluster's superuser password, from its file; a file that is missing, unreadable or empty is named."""
        try:
            password = self.password_file.read_text().strip()
        except OSError as err:
            raise StackError(
                f"the PostgreSQL password file {self.password_file} cannot be read ({err.strerror or err}): it holds "
                f"the only password of the cluster in {self.cluster}; restore it from a backup"
            ) from err
        if not password:
            raise StackError(
                f"the PostgreSQL password file {self.password_file} is empty: it holds the only password of the "
                f"cluster in {self.cluster}; restore it from a backup"
            )
        return password

    def _ensure_database(self, port: int) -> None:
        try:
            connection = psycopg2.connect(host=HOST, port=port, user=DB_USER, password=self._password(), dbname="postgres")
        except psycopg2.Error as err:
            raise StackError(f"cannot connect to PostgreSQL on {HOST}:{port}: {err}") from err
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cursor.fetchone() is None:
                    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
                    logger.info("created database %s", DATABASE)
        finally:
            connection.close()

    def _postgres_running(self) -> bool:
        if not self.postmaster_pid_file.exists() or self._stale_postmaster_pid() is not None:
            return False
        done = self._pg_ctl("status", check=False)
        if done.returncode == PG_CTL_NO_ACCESS:
            # A running server counted as stopped: status said so, and stop left it running.
            self._check_postgres_reaches_data_dir()
            raise StackError(f"pg_ctl failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.returncode == 0

    def _stale_postmaster_pid(self) -> int | None:
        """The pid in postmaster.pid when it names a live process that is not this cluster's server (its number was
        taken again after a crash or a reboot), else None. pg_ctl asks only whether the pid is alive: `status` called
        such a stranger PostgreSQL, and `stop` sent it PostgreSQL's shutdown signal."""
        try:
            pid = int(self.postmaster_pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None  # no file, or a garbled one, which pg_ctl names
        if pid <= 0:
            return None  # a single-user backend's (initdb writes its pid negated): not a number to look up
        try:
            folder = psutil.Process(pid).cwd()
        except psutil.NoSuchProcess:
            return None  # gone (or a zombie): PostgreSQL replaces a stale file itself
        except psutil.AccessDenied:
            return None  # another user's process, which pg_ctl cannot signal either: it decides, as before
        # The server works in its data folder (PostgreSQL changes into it at start).
        return None if Path(folder) == self.cluster.resolve() else pid

    def _cluster_processes(self) -> list[int]:
        """PostgreSQL processes working in the cluster's folder: backends can outlive a killed postmaster briefly."""
        found = []
        for process in psutil.process_iter():
            try:
                if self._works_in_cluster(process):
                    found.append(process.pid)
            except psutil.Error:
                continue
        return found

    def _works_in_cluster(self, process: psutil.Process) -> bool:
        """Whether a process is a PostgreSQL process of this cluster (a shell that is in the folder is not)."""
        # psutil drops the " (deleted)" Linux adds to a removed folder, so a cluster removed under its server counts.
        return process.name() == "postgres" and Path(process.cwd()) == self.cluster.resolve()

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._postgres_command("pg_ctl", "--pgdata", str(self.cluster), *args, check=check)

    def _postgres_command(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
        try:
            done = subprocess.run(
                [postgres_binary(program, self._cluster_version()), *args],
                user=user, capture_output=True, text=True, timeout=120, check=False,
            )
        except FileNotFoundError as err:
            raise StackError(f"{program} not found: install the PostgreSQL server binaries (initdb, pg_ctl)") from err
        if check and done.returncode != 0:
            log_tail = _tail(self.postgres_log) if program == "pg_ctl" else ""
            raise StackError(f"{program} failed: {done.stderr.strip() or done.stdout.strip()}{log_tail}")
        return done

    def _own_files(self) -> tuple[Path, ...]:
        """What the stack keeps in its data folder."""
        return (self.cluster, self.artifacts, self.password_file, self.ports_file, self.pid_file, self.postgres_log,
                self.mlflow_log, self.data_dir / LOCK_FILE, self.data_dir / "initdb.password")

    def other_files(self) -> list[str]:
        """The names of what the data folder holds besides the stack's own files, sorted."""
        own = {path.name for path in self._own_files()}
        return sorted(path.name for path in self.data_dir.iterdir() if path.name not in own)

    def holds_own_files(self) -> bool:
        """Whether any of the stack's own files is in the data folder."""
        return any(path.exists() for path in self._own_files())

    def _cluster_version(self) -> str | None:
        """The major version of PostgreSQL that made the cluster (its PG_VERSION), if it has been made."""
        try:
            return (self.cluster / "PG_VERSION").read_text().strip()
        except OSError:
            return None

    def _check_new_data_dir(self) -> None:
        """A folder to make a stack in holds nothing but the stack's own files: `--data-dir ""` (an unset variable)
        is the current folder, and a start made its cluster, artifacts and logs among the repository's files."""
        if not self.data_dir.is_dir():
            return
        others = self.other_files()
        if others:
            raise StackError(
                f"the data folder {self.data_dir} holds no stack but other files ({shown_names(others)}): choose an "
                "empty or new folder with --data-dir (an empty --data-dir is the current folder)"
            )

    def _check_postgres_reaches_data_dir(self) -> None:
        """As root, PostgreSQL runs as its own system user, which must be able to enter every folder above its data."""
        if os.geteuid() != 0:
            return
        owner = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        # Folders still to be made are made by this command with the usual mode; those that exist decide.
        for folder in (folder for folder in (self.data_dir, *self.data_dir.parents) if folder.exists()):
            info = folder.stat()
            if info.st_uid == owner.pw_uid and info.st_mode & stat.S_IXUSR:
                continue
            if (info.st_gid == owner.pw_gid and info.st_mode & stat.S_IXGRP) or info.st_mode & stat.S_IXOTH:
                continue
            # An existing stack's cluster stays where it is: only the folder's mode can change.
            elsewhere = "" if (self.cluster / "PG_VERSION").exists() else (
                "choose a --data-dir it can reach (e.g. under /srv or /var/tmp), or "
            )
            raise StackError(
                f"PostgreSQL runs as the {POSTGRES_SYSTEM_USER!r} system user here (the command runs as root), which "
                f"cannot enter {folder} (mode {stat.filemode(info.st_mode)}): {elsewhere}let others enter that folder "
                f"(chmod o+x {folder})"
            )

    def _own(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        owner = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        for path in paths:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    # -- MLflow ---------------------------------------------------------------------------------

    def _start_mlflow(self, ports: Ports, workers: int) -> None:
        try:
            self.artifacts.mkdir(exist_ok=True)
        except OSError as err:
            raise StackError(f"the artifacts folder {self.artifacts} cannot be used: {err.strerror or err}") from err
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.backend_store_uri(ports.postgres),
            "--serve-artifacts",
            "--artifacts-destination",
            str(self.artifacts),
            "--host",
            HOST,
            "--port",
            str(ports.mlflow),
            "--workers",
            str(workers),
        ]
        environment = {
            # MLflow's GenAI job runner adds eight processes that classic training and serving never use.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            **os.environ,
            "PGPASSWORD": self._password(),
        }
        with self.mlflow_log.open("a") as log:
            # A session of its own, so stopping takes the server's worker processes with it.
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
            )
        self.pid_file.write_text(str(process.pid))
        url = f"http://{HOST}:{ports.mlflow}/health"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                if not _free(ports.mlflow):
                    raise _taken_meanwhile("MLflow", ports.mlflow, "--port", self.mlflow_log)
                raise StackError(f"mlflow server exited with code {process.returncode}{_tail(self.mlflow_log)}")
            # Only this server's answer: another that took the port meanwhile (a stack starting at the same moment)
            # answers the same health check, and this stack was reported running on that one's store.
            if _answers(url) and _listens(ports.mlflow, process.pid):
                logger.info("MLflow tracking server at http://%s:%d", HOST, ports.mlflow)
                return
            time.sleep(0.5)
        _terminate_group(process.pid)
        self.pid_file.unlink(missing_ok=True)
        raise StackError(f"mlflow server did not answer {url} within {STARTUP_TIMEOUT_S:.0f} s{_tail(self.mlflow_log)}")

    def _mlflow_pid(self) -> int | None:
        if not self.pid_file.exists():
            return None
        try:
            pid = int(self.pid_file.read_text())
        except ValueError:
            return None  # cut short by a crash or a full disk: no process to look for
        # A pid file left by a reboot or a killed server can name a process that reused the number: only
        # this stack's own `mlflow server` (its artifacts folder on the command line) counts, so stop never
        # signals a stranger and start never takes one for the server.
        try:
            command = psutil.Process(pid).cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            # Its workers outlive a killed `mlflow server` and keep serving: the group is still the server.
            return pid if _group_serves(pid, self.artifacts) else None
        if "mlflow" not in command or "server" not in command or str(self.artifacts) not in command:
            return None
        return pid


def postgres_binary(program: str, version: str | None = None) -> str:
    """A PostgreSQL server program: the cluster's own major version (`version`) from Debian's versioned folders (not
    on PATH there) where it is installed, else from PATH, else the newest in those folders. The newest alone could not
    run a cluster an older PostgreSQL made (`database files are incompatible with server`), as after a distribution
    upgrade installs a newer PostgreSQL beside the old one."""
    if version is not None and version.isdigit() and (own := POSTGRES_VERSIONS / version / "bin" / program).exists():
        return str(own)
    found = shutil.which(program)
    if found is not None:
        return found
    installed = sorted(POSTGRES_VERSIONS.glob(f"*/bin/{program}"), key=lambda path: int(path.parts[-3]))
    return str(installed[-1]) if installed else program


def deploy_command(verb: str, data_dir: Path) -> str:
    """`python -m deploy <verb>` for the stack in data_dir, its --data-dir named unless it is the default: a hint
    copied as printed acted on deploy/.data, not the stack it was about."""
    command = f"python -m deploy {verb}"
    return command if data_dir.resolve() == DEFAULT_DATA_DIR else f"{command} --data-dir {shlex.quote(str(data_dir))}"


def shown_names(names: list[str]) -> str:
    """The first few names of a list, for a message: `a, b, c and 4 more`."""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _check_ports(ports: Ports) -> None:
    """Refuse a port outside 1-65535, or one port for both services (MLflow then failed after PostgreSQL started)."""
    for name, port, option in (("PostgreSQL", ports.postgres, "--postgres-port"), ("MLflow", ports.mlflow, "--port")):
        if not 0 < port < 65536:
            raise StackError(f"{option} {port}: the {name} port must be from 1 to 65535")
    if ports.postgres == ports.mlflow:
        raise StackError(f"--postgres-port and --port are both {ports.mlflow}: PostgreSQL and MLflow need a port each")


def _group_serves(group: int, artifacts: Path) -> bool:
    """Whether a process of the group (the server was started in a session of its own) is a worker of this stack's
    `mlflow server`: MLflow's app, given this stack's artifacts folder in the environment `mlflow server` set for it.
    Any other process that came to have the group's number is left alone."""
    for process in psutil.process_iter(["cmdline"]):
        try:
            if os.getpgid(process.pid) != group or not _may_serve(process.info["cmdline"] or []):
                continue
            if process.environ().get(ARTIFACTS_VARIABLE) == str(artifacts):
                return True
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return False


def _serves_artifacts(process: psutil.Process, artifacts: Path) -> bool:
    """Whether a process is this stack's `mlflow server` (its artifacts folder on the command line) or one of its
    workers (the folder in the environment `mlflow server` set for it)."""
    command = process.cmdline()
    if "mlflow" in command and "server" in command and str(artifacts) in command:
        return True
    return _may_serve(command) and process.environ().get(ARTIFACTS_VARIABLE) == str(artifacts)


def _may_serve(command: list[str]) -> bool:
    """Whether a command line may be a worker of `mlflow server`: its uvicorn (`mlflow.server.fastapi_app`), or, with
    `--workers` above 1, the processes uvicorn spawns, whose command line is multiprocessing's alone (they outlived a
    killed leader and uvicorn, serving on, where no command saw them)."""
    joined = " ".join(command)
    return "mlflow.server" in joined or "multiprocessing" in joined


def _server_option(pid: int, option: str) -> int | None:
    """The number a tracking server was started with for `option` (`--port`, `--workers`): from its own command line,
    else its uvicorn's, if readable."""
    def value_in(command: list[str]) -> int | None:
        with suppress(ValueError, IndexError):
            return int(command[command.index(option) + 1])
        return None

    with suppress(psutil.Error):
        return value_in(psutil.Process(pid).cmdline())
    # The leader was killed: its uvicorn, in its process group, carries the same options.
    for process in psutil.process_iter(["cmdline"]):
        with suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pid and (value := value_in(process.info["cmdline"] or [])) is not None:
                return value
    return None


def _store_port(pid: int) -> int | None:
    """The PostgreSQL port of the store a tracking server was started with (its --backend-store-uri), if readable."""
    with suppress(psutil.Error, ValueError, IndexError):
        command = psutil.Process(pid).cmdline()
        return urlsplit(command[command.index("--backend-store-uri") + 1]).port
    return None


def describe(strays: list[psutil.Process]) -> str:
    """Stray processes by part, for a message, each by its first process (the postmaster, the `mlflow server`; the
    others are theirs): `PostgreSQL (pid 12) and the tracking server (pid 14)`."""
    pids = {process.pid for process in strays}
    roots = [process for process in strays if process.info.get("ppid") not in pids]
    postgres = [process.pid for process in roots if process.info.get("name") == "postgres"]
    mlflow = [process.pid for process in roots if process.pid not in postgres]
    parts = [
        f"{name} ({'pid' if len(found) == 1 else 'pids'} {', '.join(map(str, sorted(found)))})"
        for name, found in (("PostgreSQL", postgres), ("the tracking server", mlflow))
        if found
    ]
    return " and ".join(parts)


def _free(port: int) -> bool:
    """Whether a server could listen on the port now (a connection still closing does not hold it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _taken_meanwhile(name: str, port: int, option: str, log: Path) -> StackError:
    return StackError(
        f"{HOST}:{port}, the {name} port, was taken by another process as this stack started: choose another with "
        f"{option} (the {name} log: {log})"
    )


def _listens(port: int, group: int) -> bool:
    """Whether a process of the process group listens on the port."""
    for connection in psutil.net_connections(kind="tcp"):
        # laddr is an empty tuple for a socket with no address.
        listening = connection.status == psutil.CONN_LISTEN and getattr(connection.laddr, "port", None) == port
        if not listening or connection.pid is None:
            continue
        with suppress(ProcessLookupError):
            if os.getpgid(connection.pid) == group:
                return True
    return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _terminate_group(pid: int, grace_s: float = 20.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.2)
    else:
        logger.warning("mlflow server (pid %d) ignored SIGTERM for %.0f s; killing it", pid, grace_s)
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    # A server started by this process stays a zombie (and "alive" to kill(0)) until it is waited for.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _tail(log: Path, lines: int = 15) -> str:
    if not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(text) if text else ""
