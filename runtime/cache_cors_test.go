package runtime

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCacheCORS: a cached answer is stored without the CORS headers of
// the request that filled it; each hit gets its own origin's.
func TestCacheCORS(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"app/c/route.ts":   "export const revalidate = 60\nexport function GET() { return new Response('cached') }\n",
		"app/c/route.json": `{"cors": {"origins": ["http://a.test", "http://b.test"]}}`,
	})
	ts, _ := jsServe(t, dir, Config{})
	var got []jsAnswer
	for _, origin := range []string{"http://a.test", "http://b.test", "http://evil.test"} {
		got = append(got, jsDo(t, http.DefaultClient, "GET", ts.URL+"/c", http.Header{"Origin": {origin}}, nil, "Access-Control-Allow-Origin", "X-Wasmroute-Cache"))
	}
	want := []jsAnswer{
		{Status: 200, Body: "cached", Header: http.Header{"Access-Control-Allow-Origin": {"http://a.test"}, "X-Wasmroute-Cache": {"MISS"}}},
		{Status: 200, Body: "cached", Header: http.Header{"Access-Control-Allow-Origin": {"http://b.test"}, "X-Wasmroute-Cache": {"HIT"}}},
		{Status: 200, Body: "cached", Header: http.Header{"X-Wasmroute-Cache": {"HIT"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
