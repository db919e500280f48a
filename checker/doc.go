// Package checker owns the mutual-exclusion checker of DESIGN §5. Empty until the checker lands.
package checker
