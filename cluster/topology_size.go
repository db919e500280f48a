package cluster

// DataNodes is how many data nodes t starts when a Spec leaves Nodes at
// 0: the topology's default shape (standalone has none of its own: the
// caller's count).
func (t Topology) DataNodes() int {
	switch t {
	case TopoSentinel:
		return sentinelDataNodes
	case TopoCluster:
		return clusterDataNodes
	}
	return 0
}

// Processes is how many processes t runs for n data nodes: the data nodes
// and, on sentinel, the Sentinels.
func (t Topology) Processes(n int) int {
	if t == TopoSentinel {
		return n + sentinelCount
	}
	return n
}

// Replicated reports whether t has replicas (sentinel, cluster).
func (t Topology) Replicated() bool { return t == TopoSentinel || t == TopoCluster }
