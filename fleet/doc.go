// Package fleet is the controller's side of a multi-host run: it starts
// agents through an Engine, registers them behind a start barrier,
// measures each agent's clock offset, hands each its share of a cell's
// clients, and merges their streams of history events onto the
// controller's timeline.
package fleet
