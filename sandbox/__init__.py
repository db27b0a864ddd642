"""Guest-side code: runs inside the wall, next to untrusted candidates. Stdlib only."""
