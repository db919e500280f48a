package cpuset

import "testing"

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		cpus []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 2}, "0,2"},
		{[]int{0, 1, 2, 5, 7, 8}, "0-2,5,7-8"},
	} {
		if got := Format(tc.cpus); got != tc.want {
			t.Errorf("Format(%v) = %q, want %q", tc.cpus, got, tc.want)
		}
	}
}
