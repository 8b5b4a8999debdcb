package wrk

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	const head = `Running 2s test @ http://127.0.0.1:18111/api/nothere
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.24ms    1.12ms  14.97ms   77.43%
    Req/Sec    14.05k     2.77k   21.87k    67.50%
  Latency Distribution
`
	for _, tc := range []struct {
		name, out string
		want      Result
		wantErr   bool
	}{
		{
			name: "non-2xx",
			out: head + `     50%    0.96ms
     75%    1.57ms
     90%    2.62ms
     99%    5.29ms
  56040 requests in 2.01s, 9.41MB read
  Non-2xx or 3xx responses: 56040
Requests/sec:  27949.96
Transfer/sec:      4.69MB
`,
			want: Result{Requests: 56040, RPS: 27949.96, P50: 960 * time.Microsecond, P99: 5290 * time.Microsecond, Non2xx: 56040},
		},
		{
			name: "units and socket errors",
			out: head + `     50%  306.00us
     75%  489.00us
     90%    1.47ms
     99%    1.20s 
  563487 requests in 10.00s, 72.01MB read
  Socket errors: connect 0, read 0, write 0, timeout 3
Requests/sec:  56348.23
Transfer/sec:      7.20MB
`,
			want: Result{Requests: 563487, RPS: 56348.23, P50: 306 * time.Microsecond, P99: 1200 * time.Millisecond, SocketErrors: "connect 0, read 0, write 0, timeout 3"},
		},
		{name: "no --latency", out: "Requests/sec:  5.00\n", wantErr: true},
		{name: "empty", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSocketErrorCount(t *testing.T) {
	for line, want := range map[string]int64{
		"":                                      0,
		"connect 0, read 0, write 0, timeout 3": 3,
		"connect 2, read 1, write 0, timeout 0": 3,
	} {
		if got := SocketErrorCount(line); got != want {
			t.Errorf("SocketErrorCount(%q) = %d, want %d", line, got, want)
		}
	}
}
