// Package python holds lockbench's Python reference lock clients (the
// .py files here, run as `python3 clients/python/NAME.py`), embedded so
// that bench zoo can install and run them from anywhere (Install), and
// the tests that drive them through the external client protocol against
// a real redis-server.
package python
