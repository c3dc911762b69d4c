"""The two roles' sans-IO endpoints (lock, phone) and the lock's peer directory interface."""
