"""Model families behind one interface: fit on a frame, predict class probabilities, save, load."""
