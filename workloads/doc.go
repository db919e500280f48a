// Package workloads owns workload specs and generators, the worker loop and the protected resource (DESIGN §1). Empty until the workloads land.
package workloads
