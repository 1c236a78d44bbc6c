//go:build !unix

package rest_test

import "time"

// cpuTime is not measured on this system: the benchmark reports 0.
func cpuTime() time.Duration { return 0 }
