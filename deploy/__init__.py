"""Running the project on shared infrastructure: a PostgreSQL-backed MLflow tracking server on loopback."""
