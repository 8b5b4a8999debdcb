package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The embedded store is one bbolt file, kv.db, in its folder:
//
//	meta                    bucket: "version" -> 2
//	k:<namespace>           bucket, one per namespace: key -> expiry (8 bytes, big-endian Unix ms, 0: never) + value
//	n:<namespace>           bucket, one per namespace:
//	    x                   bucket: expiry (8 bytes, big-endian Unix ms) + key -> "", the keys that expire, soonest first
//	    count               the number of keys in k:<namespace> (8 bytes, big-endian), expired ones not yet purged included
//
// The keys are a top-level bucket of their own, so that a read opens one
// bucket (a nested one costs a read ~0.2 µs).
//
// Writes purge a few expired keys each (x gives them in order), and all of
// them when a new key finds the namespace full. Reads skip expired keys.
//
// Writes go through one committer: a writer that finds no commit running
// commits every write queued by then in one transaction, one fsync, then
// hands the next batch to a writer still waiting. A lone writer waits for
// its own fsync and no more (bbolt's DB.Batch waits 10 ms for company).

const (
	boltFile    = "kv.db"
	boltVersion = 2
	// boltLockWait is how long Open waits for another process to let go
	// of the database before failing.
	boltLockWait = 500 * time.Millisecond
	// purgeEach is how many expired keys a write purges on its way.
	purgeEach = 16
)

var (
	bucketMeta   = []byte("meta")
	bucketExpiry = []byte("x")
	keyVersion   = []byte("version")
	keyCount     = []byte("count")
)

type boltStore struct {
	db   *bolt.DB
	path string

	mu      sync.Mutex
	queue   []*boltOp // writes waiting for the next commit
	running bool      // a writer is committing (or handing over)

	commits atomic.Int64 // transactions committed, for benchmarks
}

func openBolt(ctx context.Context, dir string) (*boltStore, error) {
	if dir == "" {
		return nil, errors.New("kv: no folder for the embedded store (Config.Dir)")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv: opening %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kv: %w", err)
	}
	ignore := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(ignore); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(ignore, []byte("*\n"), 0o600); err != nil {
			return nil, fmt.Errorf("kv: %w", err)
		}
	}
	path := filepath.Join(dir, boltFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltLockWait, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("kv: %s is in use by another process (or Store): its lock was not free within %v; stop that process, or give this one another folder", path, boltLockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("kv: opening %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keyVersion); {
		case v == nil:
			return meta.Put(keyVersion, []byte(strconv.Itoa(boltVersion)))
		case string(v) != strconv.Itoa(boltVersion):
			return fmt.Errorf("data format version %q, this wasmroute reads %d", v, boltVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("kv: %s: %w", path, err)
	}
	return &boltStore{db: db, path: path}, nil
}

func (s *boltStore) name() string { return "bolt" }

func (s *boltStore) close() error { return s.db.Close() }

func (s *boltStore) namespace(name string, lim Limits) (Namespace, error) {
	n := &boltNS{s: s, name: name, bucket: []byte("n:" + name), keysBucket: []byte("k:" + name), lim: lim}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(n.keysBucket); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(n.bucket)
		if err != nil {
			return err
		}
		_, err = b.CreateBucketIfNotExists(bucketExpiry)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kv: namespace %s: %w", name, err)
	}
	return n, nil
}

// boltNS is a Namespace of the embedded store.
type boltNS struct {
	s          *boltStore
	name       string
	bucket     []byte // "n:" + name
	keysBucket []byte // "k:" + name
	lim        Limits
}

// keys returns the namespace's keys bucket in tx.
func (n *boltNS) keys(tx *bolt.Tx) (*bolt.Bucket, error) {
	if k := tx.Bucket(n.keysBucket); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("namespace %s: no bucket %s", n.name, n.keysBucket)
}

// A record is expiry (8 bytes) + value.
func recordExpiry(rec []byte) int64 { return int64(binary.BigEndian.Uint64(rec)) }

func expired(exp, now int64) bool { return exp != 0 && now > exp }

func (n *boltNS) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, errOp("get", key, err)
	}
	var v []byte
	err := n.s.db.View(func(tx *bolt.Tx) error {
		keys, err := n.keys(tx)
		if err != nil {
			return err
		}
		rec := keys.Get([]byte(key))
		if len(rec) >= 8 && !expired(recordExpiry(rec), time.Now().UnixMilli()) {
			v = bytes.Clone(rec[8:])
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, errOp("get", key, err)
	case ctx.Err() != nil:
		return nil, errOp("get", key, ctx.Err())
	case v == nil:
		return nil, errNotFound(key)
	}
	return v, nil
}

func (n *boltNS) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, errOp("list", prefix, err)
	}
	var keys []string
	err := n.s.db.View(func(tx *bolt.Tx) error {
		now := time.Now().UnixMilli()
		b, err := n.keys(tx)
		if err != nil {
			return err
		}
		c := b.Cursor()
		p := []byte(prefix)
		i := 0
		for k, rec := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, rec = c.Next() {
			if i++; i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(rec) >= 8 && !expired(recordExpiry(rec), now) {
				keys = append(keys, string(k))
			}
		}
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, errOp("list", prefix, err)
	}
	return keys, nil
}

func (n *boltNS) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkKey("set", key); err != nil {
		return err
	}
	if int64(len(value)) > n.lim.MaxValue {
		return errTooLarge(key, len(value), n.lim)
	}
	rec := make([]byte, 8+len(value)) // kept by bbolt until the commit
	copy(rec[8:], value)
	o := &boltOp{ctx: ctx, ns: n, kind: opSet, op: "set", key: key, rec: rec, ttl: ttl}
	n.s.write(o)
	return o.err
}

func (n *boltNS) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	o := &boltOp{ctx: ctx, ns: n, kind: opDelete, op: "delete", key: key}
	n.s.write(o)
	return o.err
}

func (n *boltNS) Incr(ctx context.Context, key string, by int64) (int64, error) {
	if err := checkKey("incr", key); err != nil {
		return 0, err
	}
	o := &boltOp{ctx: ctx, ns: n, kind: opIncr, op: "incr", key: key, by: by}
	n.s.write(o)
	return o.sum, o.err
}

type opKind uint8

const (
	opSet opKind = iota
	opDelete
	opIncr
)

// boltOp is one write waiting for, or done by, a commit.
type boltOp struct {
	ctx  context.Context
	ns   *boltNS
	kind opKind
	op   string // for messages: "set", "delete", "incr"
	key  string
	rec  []byte        // opSet: the record, its expiry left for the commit to fill in
	ttl  time.Duration // opSet
	by   int64         // opIncr

	sum  int64 // opIncr: the result
	err  error
	done chan bool // true: lead the next commit; false: done, see err
}

// write queues o and returns once it is committed (or failed), o.err
// telling which. Whoever finds no commit running commits the whole queue,
// o included, then hands over to the first write that queued meanwhile.
func (s *boltStore) write(o *boltOp) {
	if err := o.ctx.Err(); err != nil {
		o.err = errOp(o.op, o.key, err)
		return
	}
	o.done = make(chan bool, 1)
	s.mu.Lock()
	s.queue = append(s.queue, o)
	lead := !s.running
	s.running = true
	s.mu.Unlock()
	if !lead && !<-o.done {
		return
	}
	s.mu.Lock()
	ops := s.queue
	s.queue = nil
	s.mu.Unlock()

	// Even if the commit panics (a bug, a damaged file: wazero recovers a
	// host function's panic and the server carries on), the writers
	// waiting are answered and the next leader is named.
	committed := false
	defer func() {
		for _, p := range ops {
			if !committed {
				p.err = errOp(p.op, p.key, errors.New("the store failed (panic)"))
			}
			if p != o {
				p.done <- false
			}
		}
		s.mu.Lock()
		if len(s.queue) > 0 {
			s.queue[0].done <- true
		} else {
			s.running = false
		}
		s.mu.Unlock()
	}()
	s.commit(ops)
	committed = true
}

// commit applies ops in one transaction. A write the caller's context gave
// up on before its turn fails with the context's error and changes
// nothing; a refused write (ErrLimit, ErrNotInteger) fails alone. When the
// transaction fails (the disk, a damaged record), each write is tried
// again alone, so that only the ones at fault fail.
func (s *boltStore) commit(ops []*boltOp) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := time.Now().UnixMilli()
		for _, o := range ops {
			o.err, o.sum = nil, 0
			if err := o.ctx.Err(); err != nil {
				o.err = errOp(o.op, o.key, err)
				continue
			}
			if err := o.apply(tx, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.commits.Add(1)
		return
	}
	if len(ops) == 1 {
		ops[0].err = errOp(ops[0].op, ops[0].key, err)
		return
	}
	for _, o := range ops {
		s.commit([]*boltOp{o})
	}
}

// apply carries o out in tx, at now (Unix ms). A refusal goes to o.err and
// changes nothing; an error returned aborts the transaction.
func (o *boltOp) apply(tx *bolt.Tx, now int64) error {
	n := o.ns
	keys, err := n.keys(tx)
	if err != nil {
		return err
	}
	b := tx.Bucket(n.bucket)
	if b == nil {
		return fmt.Errorf("namespace %s: no bucket %s", n.name, n.bucket)
	}
	if err := purge(b, keys, now, purgeEach); err != nil {
		return err
	}
	key := []byte(o.key)
	old := keys.Get(key)
	oldExp, exists := int64(0), old != nil
	if exists {
		if len(old) < 8 {
			return fmt.Errorf("key %q: damaged record (%d bytes)", o.key, len(old))
		}
		oldExp = recordExpiry(old)
	}
	live := exists && !expired(oldExp, now)

	var rec []byte
	switch o.kind {
	case opDelete:
		if !exists {
			return nil
		}
		if err := unindex(b, key, oldExp); err != nil {
			return err
		}
		if err := keys.Delete(key); err != nil {
			return err
		}
		return addCount(b, -1)
	case opSet:
		rec = o.rec
		binary.BigEndian.PutUint64(rec, uint64(expiryMillis(time.UnixMilli(now), o.ttl)))
	case opIncr:
		v, exp := int64(0), int64(0)
		if live {
			var ok bool
			if v, ok = parseDecimal(old[8:]); !ok {
				o.err = errNotDecimal(o.key)
				return nil
			}
			exp = oldExp
		}
		sum, ok := add(v, o.by)
		if !ok {
			o.err = errOverflow(o.key, o.by)
			return nil
		}
		o.sum = sum
		rec = binary.BigEndian.AppendUint64(make([]byte, 0, 8+20), uint64(exp))
		rec = strconv.AppendInt(rec, sum, 10)
	}
	if !exists {
		full, err := isFull(b, keys, now, n.lim.MaxKeys)
		if err != nil {
			return err
		}
		if full {
			o.err = errLimit(o.op, o.key, n.name, n.lim)
			return nil
		}
		if err := addCount(b, 1); err != nil {
			return err
		}
	} else if err := unindex(b, key, oldExp); err != nil {
		return err
	}
	if exp := recordExpiry(rec); exp != 0 {
		if err := b.Bucket(bucketExpiry).Put(expiryKey(exp, key), []byte{}); err != nil {
			return err
		}
	}
	return keys.Put(key, rec)
}

// isFull reports whether the namespace b (its keys in keys) holds max keys
// or more, once its expired keys are purged.
func isFull(b, keys *bolt.Bucket, now int64, max int) (bool, error) {
	if count(b) < uint64(max) {
		return false, nil
	}
	if err := purge(b, keys, now, -1); err != nil {
		return false, err
	}
	return count(b) >= uint64(max), nil
}

// purge deletes up to limit (-1: all) keys of namespace b (its keys in
// keys) expired at now.
func purge(b, keys *bolt.Bucket, now int64, limit int) error {
	x := b.Bucket(bucketExpiry)
	var gone [][]byte
	c := x.Cursor()
	for k, _ := c.First(); k != nil && limit != 0; k, _ = c.Next() {
		if len(k) < 8 || !expired(int64(binary.BigEndian.Uint64(k)), now) {
			break
		}
		gone = append(gone, bytes.Clone(k))
		limit--
	}
	if len(gone) == 0 {
		return nil
	}
	deleted := 0
	for _, xk := range gone {
		exp, key := int64(binary.BigEndian.Uint64(xk)), xk[8:]
		if err := x.Delete(xk); err != nil {
			return err
		}
		if rec := keys.Get(key); len(rec) >= 8 && recordExpiry(rec) == exp {
			if err := keys.Delete(key); err != nil {
				return err
			}
			deleted++
		}
	}
	return addCount(b, -deleted)
}

// unindex removes key's entry in x, if it expires.
func unindex(b *bolt.Bucket, key []byte, exp int64) error {
	if exp == 0 {
		return nil
	}
	return b.Bucket(bucketExpiry).Delete(expiryKey(exp, key))
}

func expiryKey(exp int64, key []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(key)), uint64(exp)), key...)
}

func count(b *bolt.Bucket) uint64 {
	if v := b.Get(keyCount); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func addCount(b *bolt.Bucket, d int) error {
	if d == 0 {
		return nil
	}
	return b.Put(keyCount, binary.BigEndian.AppendUint64(nil, count(b)+uint64(d)))
}
