// Package report owns summary.json, plots, report.html, benchfmt and compare (DESIGN §8). Empty until the report lands.
package report
