// Package wire is the protocol between a controller and its agents: one
// TCP connection per agent carrying JSON Lines, one Message per line, in
// both directions. It is the schema both sides share and nothing else.
//
// The exchange, in order:
//
//	agent → hello (version, name, index, token)
//	controller → welcome, or error and close
//	for every cell:
//	  controller → assign (the cell's workload and the agent's workers)
//	  agent → ready (lockers built and connected), or error
//	  controller ↔ ping/pong, repeated: the clock offset
//	  controller → start (the barrier: every agent is ready)
//	  agent → event, idle, closed… (as its workers record)
//	  controller → cancel (only when the run is interrupted)
//	  agent → result (its share of the measurements)
//	  controller ↔ ping/pong again: the drift over the cell
//	controller → bye
package wire

import (
	"time"

	"github.com/lockbench/lockbench/history"
	"github.com/lockbench/lockbench/locks"
	"github.com/lockbench/lockbench/workloads"
)

// Version is the protocol version an agent announces; the controller
// refuses another.
const Version = 1

// Message types.
const (
	TypeHello   = "hello"
	TypeWelcome = "welcome"
	TypeAssign  = "assign"
	TypeReady   = "ready"
	TypePing    = "ping"
	TypePong    = "pong"
	TypeStart   = "start"
	TypeEvent   = "event"
	TypeIdle    = "idle"
	TypeClosed  = "closed"
	TypeCancel  = "cancel"
	TypeResult  = "result"
	TypeError   = "error"
	TypeBye     = "bye"
)

// Message is one line. Type says which other fields are set.
type Message struct {
	Type string `json:"type"`

	// hello: the agent's protocol version, name, index and the run's
	// token.
	Version int    `json:"version,omitempty"`
	Agent   string `json:"agent,omitempty"`
	Index   int    `json:"index,omitempty"`
	Token   string `json:"token,omitempty"`

	// ping/pong: Seq pairs them; AgentNs is the agent's clock when it
	// answered (its cell clock, ns).
	Seq     int   `json:"seq,omitempty"`
	AgentNs int64 `json:"agent_ns,omitempty"`

	// assign.
	Assign *Assign `json:"assign,omitempty"`

	// event, idle, closed: Recorder is the agent's recorder (one per
	// worker, numbered from 0 in the order the workers started); Event
	// its event, times on the agent's clock; AgentNs the time an idle
	// vouches for.
	Recorder int              `json:"recorder,omitempty"`
	Event    *history.Event   `json:"event,omitempty"`
	Result   *workloads.Share `json:"result,omitempty"`

	// error (either way): what went wrong, in one line.
	Error string `json:"error,omitempty"`
}

// Assign is an agent's share of one cell.
type Assign struct {
	// Cell names the cell (for messages and logs).
	Cell string `json:"cell"`
	// Spec is the cell's whole workload; Workers the indexes of the
	// workers this agent runs. Spec.Ops is already this agent's share of
	// the op budget.
	Spec    workloads.Spec `json:"spec"`
	Workers []int          `json:"workers"`
	// KeyPrefix starts every lock key of the cell.
	KeyPrefix string `json:"key_prefix"`
	// Strategy is the lock's name (locks.Lookup).
	Strategy string `json:"strategy"`
	// Timeout and NodeTimeout are the lockers' command and per-node
	// bounds.
	Timeout     time.Duration `json:"timeout_ns"`
	NodeTimeout time.Duration `json:"node_timeout_ns,omitempty"`
	// Groups are the client groups, worker i in Groups[i % len]: how
	// each reaches the lock nodes and the resource.
	Groups []Group `json:"groups"`
}

// Group is how one client group reaches the nodes.
type Group struct {
	// Nodes are the lock nodes in order (an address may be a fault
	// proxy's).
	Nodes []Node `json:"nodes"`
	// Deployment is set for a replicated topology.
	Deployment *locks.Deployment `json:"deployment,omitempty"`
	// Resource is the protected resource's node; ResourceWrites, when
	// set, is the address its writes go to (a delayed-write proxy).
	Resource       Node   `json:"resource"`
	ResourceWrites string `json:"resource_writes,omitempty"`
}

// Node is one Redis node's address and credentials. The password
// crosses the controller's connection to its agents and is never logged.
type Node struct {
	Addr     string `json:"addr"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	DB       int    `json:"db,omitempty"`
}
