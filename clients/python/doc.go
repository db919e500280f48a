// Package python holds lockbench's Python reference lock clients (the
// .py files here, run as `python3 clients/python/NAME.py`) and, in Go, the
// tests that drive them through the external client protocol against a
// real redis-server. It has no Go code of its own.
package python
