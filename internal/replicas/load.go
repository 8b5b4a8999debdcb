package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valkey-io/valkey-go"
)

// record is one request of the load.
type record struct {
	Start    time.Duration // since the load's start
	Latency  time.Duration
	Method   string
	Status   int    // 0: no answer
	Err      string // why it failed: the transport's error or an unexpected answer; "" if it did not
	Replica  string // haproxy's X-Replica: the server that answered ("" if haproxy did)
	Attempts int    // connections the client sent it on: more than 1 if net/http sent it again
	Key      string // a POST's key ...
	Value    string // ... and the value it wrote
}

func (r record) failed() bool { return r.Err != "" }

// acked reports whether r is a write its client was told is done.
func (r record) acked() bool { return r.Method == http.MethodPost && !r.failed() }

// load is a bounded load running against one URL: Conns clients, each
// with keep-alive, sending one request per token of a ticker at Rate per
// second, dropped when every client is busy.
type load struct {
	start  time.Time
	tokens chan struct{}
	stopc  chan struct{}
	wg     sync.WaitGroup
	ticks  sync.WaitGroup

	mu      sync.Mutex
	records []record
}

func startLoad(base string, cfg config) *load {
	tr := &http.Transport{
		MaxIdleConnsPerHost: cfg.Conns,
		MaxConnsPerHost:     cfg.Conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	l := &load{start: time.Now(), tokens: make(chan struct{}), stopc: make(chan struct{})}
	l.ticks.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
		defer tick.Stop()
		defer close(l.tokens)
		for {
			select {
			case <-l.stopc:
				return
			case <-tick.C:
				select {
				case l.tokens <- struct{}{}:
				default: // every client is busy: the load stays bounded
				}
			}
		}
	})
	var seq atomic.Int64
	for range cfg.Conns {
		l.wg.Go(func() {
			var mine []record
			for range l.tokens {
				// At random: in a fixed pattern, haproxy's round robin
				// would send the POSTs to one replica.
				n := seq.Add(1)
				if rand.IntN(cfg.PostEvery) == 0 {
					mine = append(mine, l.post(client, base, n))
				} else {
					mine = append(mine, l.get(client, base))
				}
			}
			l.mu.Lock()
			l.records = append(l.records, mine...)
			l.mu.Unlock()
		})
	}
	return l
}

// stop ends the load, lets the requests in flight finish and returns
// every request's record.
func (l *load) stop() []record {
	close(l.stopc)
	l.ticks.Wait()
	l.wg.Wait()
	return l.records
}

// get reads the seeded key, which every replica reads from Redis.
func (l *load) get(client *http.Client, base string) record {
	r, body := l.do(client, http.MethodGet, base+"/kv?op=get&key="+seedKey, nil)
	r.check(body, `{"value":"`+seedValue+`"}`)
	return r
}

// post writes a key of its own, unique to the request n and this run,
// and is acknowledged only once Redis answered the write.
func (l *load) post(client *http.Client, base string, n int64) record {
	key := fmt.Sprintf("w%07d", n)
	value := fmt.Sprintf("%s written at %d", key, time.Now().UnixNano())
	r, body := l.do(client, http.MethodPost, base+"/kv?key="+key, strings.NewReader(value))
	r.Key, r.Value = key, value
	r.check(body, `{"ok":true}`)
	return r
}

// do sends one request and returns its record and the answer's body.
func (l *load) do(client *http.Client, method, target string, body io.Reader) (record, string) {
	start := time.Now()
	r := record{Start: start.Sub(l.start), Method: method}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		panic(err) // the URL is ours
	}
	// net/http sends a GET again, on another connection, when a reused one
	// closed before any answer (as haproxy does to say "try again"):
	// counted, so that the report shows what haproxy's retries did alone.
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { r.Attempts++ },
	}))
	res, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which holds a POST's unique key
		}
		r.Latency, r.Err = time.Since(start), err.Error()
		return r, ""
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	r.Latency, r.Status, r.Replica = time.Since(start), res.StatusCode, res.Header.Get("X-Replica")
	if err != nil {
		r.Err = "reading the body: " + err.Error()
	}
	return r, string(bytes.TrimSpace(b))
}

// check fails r unless it is a 200 whose body is want.
func (r *record) check(body, want string) {
	if r.Err != "" {
		return
	}
	from := "haproxy"
	if r.Replica != "" {
		from = r.Replica
	}
	switch {
	case r.Status != http.StatusOK:
		r.Err = fmt.Sprintf("%d from %s", r.Status, from)
	case body != want:
		r.Err = fmt.Sprintf("200 from %s with %.80q, want %q", from, body, want)
	}
}

// readBack reads every acknowledged write's key straight from Redis, in
// the layout internal/kv/redis.go documents, and returns the writes whose
// key is missing or holds another value.
func readBack(ctx context.Context, redisURL string, records []record) ([]record, error) {
	opt, err := valkey.ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	opt.DisableCache = true
	c, err := valkey.NewClient(opt)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var acked []record
	for _, r := range records {
		if r.acked() {
			acked = append(acked, r)
		}
	}
	var lost []record
	for len(acked) > 0 {
		batch := acked[:min(len(acked), 500)]
		acked = acked[len(batch):]
		keys := make([]string, len(batch))
		for i, r := range batch {
			keys[i] = "wasmroute:{" + namespace + "}:k:" + r.Key
		}
		vals, err := c.Do(ctx, c.B().Mget().Key(keys...).Build()).ToArray()
		if err != nil {
			return nil, fmt.Errorf("reading the writes back from Redis: %w", err)
		}
		if len(vals) != len(batch) {
			return nil, fmt.Errorf("reading the writes back from Redis: %d values for %d keys", len(vals), len(batch))
		}
		for i, v := range vals {
			if s, err := v.ToString(); err != nil || s != batch[i].Value {
				lost = append(lost, batch[i])
			}
		}
	}
	return lost, nil
}

// seed writes the key the GETs read, through one replica.
func seed(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/kv?key="+seedKey, strings.NewReader(seedValue))
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("seeding %s: %w", seedKey, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("seeding %s: %d %s", seedKey, res.StatusCode, b)
	}
	return nil
}
