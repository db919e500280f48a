// Package history owns the event type of DESIGN §4, a streaming writer and a validating reader. Empty until the recorder lands.
package history
