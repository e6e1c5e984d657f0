package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iomux/iomux/internal/iomuxtest"
)

// goRedis is a go-redis client of s, closed at cleanup.
func goRedis(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: srvWait, ReadTimeout: srvWait, WriteTimeout: srvWait})
	t.Cleanup(func() { c.Close() })
	return c
}

// go-redis, a client library nobody here wrote, against kv-server: it
// negotiates down to RESP2 (HELLO 3 is refused), and every kind of value,
// expiry, pipelines and SCAN's iterator work through it.
func TestKVServerGoRedis(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	c := goRedis(t, s.addr)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, "greeting", "hello", 0).Err())
	if v, err := c.Get(ctx, "greeting").Result(); v != "hello" || err != nil {
		t.Fatalf("GET: %q, %v", v, err)
	}
	if _, err := c.Get(ctx, "missing").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET missing: %v, want redis.Nil", err)
	}
	if n, err := c.IncrBy(ctx, "n", 41).Result(); n != 41 || err != nil {
		t.Fatalf("INCRBY: %d, %v", n, err)
	}
	if err := c.LPush(ctx, "greeting", "x").Err(); err == nil || err.Error() != "WRONGTYPE Operation against a key holding the wrong kind of value" {
		t.Fatalf("LPUSH on a string: %v", err)
	}
	must(c.RPush(ctx, "list", "a", "b", "c").Err())
	if l, err := c.LRange(ctx, "list", -2, -1).Result(); !slices.Equal(l, []string{"b", "c"}) || err != nil {
		t.Fatalf("LRANGE: %q, %v", l, err)
	}
	must(c.HSet(ctx, "hash", "f1", "v1", "f2", "v2").Err())
	if h, err := c.HGetAll(ctx, "hash").Result(); len(h) != 2 || h["f2"] != "v2" || err != nil {
		t.Fatalf("HGETALL: %v, %v", h, err)
	}
	must(c.SAdd(ctx, "set", "x", "y").Err())
	if m, err := c.SMembers(ctx, "set").Result(); len(m) != 2 || err != nil {
		t.Fatalf("SMEMBERS: %v, %v", m, err)
	}
	must(c.ZAdd(ctx, "z", redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 1.5, Member: "a"}).Err())
	if z, err := c.ZPopMin(ctx, "z").Result(); len(z) != 1 || z[0].Member != "a" || z[0].Score != 1.5 || err != nil {
		t.Fatalf("ZPOPMIN: %v, %v", z, err)
	}
	must(c.Set(ctx, "ttl", "v", 100*time.Second).Err())
	if d, err := c.TTL(ctx, "ttl").Result(); d != 100*time.Second || err != nil {
		t.Fatalf("TTL: %v, %v", d, err)
	}
	must(c.Set(ctx, "short", "v", 50*time.Millisecond).Err())
	time.Sleep(100 * time.Millisecond)
	if n, err := c.Exists(ctx, "short").Result(); n != 0 || err != nil {
		t.Fatalf("an expired key EXISTS: %d, %v", n, err)
	}
	// A pipeline of 500 commands, sent in one write, answered in order.
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 250 {
			p.Set(ctx, fmt.Sprintf("p:%d", i), i, 0)
			p.Incr(ctx, "counter")
		}
		return nil
	})
	must(err)
	if last := cmds[len(cmds)-1].(*redis.IntCmd).Val(); len(cmds) != 500 || last != 250 {
		t.Fatalf("pipeline: %d replies, last INCR %d", len(cmds), last)
	}
	var keys []string
	iter := c.Scan(ctx, 0, "p:*", 10).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	must(iter.Err())
	if slices.Sort(keys); len(slices.Compact(keys)) != 250 {
		t.Fatalf("SCAN found %d of the 250 keys", len(keys))
	}
	if n, err := c.DBSize(ctx).Result(); n != 258 || err != nil {
		t.Fatalf("DBSIZE: %d, %v", n, err)
	}
	must(c.FlushAll(ctx).Err())
	if n, _ := c.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL: %d", n)
	}
}

// Several loops share one keyspace: concurrent INCRs from connections on
// both loops lose no update, and MSET is atomic for MGET on another loop.
func TestKVServerLoopsShareKeyspace(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	ctx := context.Background()
	const clients, incrs = 8, 300
	var wg sync.WaitGroup
	errs := make(chan error, 2*clients)
	stop := make(chan struct{})
	for i := range clients {
		c := goRedis(t, s.addr)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range incrs {
				if err := c.Incr(ctx, "shared").Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() { // writers and readers of a pair of keys that must stay equal
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%2 == 0 {
					if err := c.MSet(ctx, "pair:a", j, "pair:b", j, "pair:c", j).Err(); err != nil {
						errs <- err
						return
					}
					continue
				}
				v, err := c.MGet(ctx, "pair:a", "pair:b", "pair:c").Result()
				if err != nil {
					errs <- err
					return
				}
				if v[0] != v[1] || v[1] != v[2] {
					errs <- fmt.Errorf("MGET saw a half-done MSET: %v", v)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()
		close(done)
	}()
	<-done
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := goRedis(t, s.addr)
	if n, err := c.Get(ctx, "shared").Int(); n != clients*incrs || err != nil {
		t.Fatalf("shared counter %d, %v; want %d", n, err, clients*incrs)
	}
}

// go-redis's blocking pop, optimistic transaction (WATCH, MULTI/EXEC) and
// pub/sub against kv-server, each once, across two loops.
func TestKVServerGoRedisBlockingTxPubSub(t *testing.T) {
	iomuxtest.CheckLeaks(t)
	s := srvStart(t, runKVServer, "--loops", "2")
	c1, c2 := goRedis(t, s.addr), goRedis(t, s.addr)
	ctx := context.Background()

	// BLPOP on one client, woken by the other's RPUSH; BZPOPMIN times out.
	popped := make(chan []string, 1)
	go func() {
		v, err := c1.BLPop(ctx, 5*time.Second, "queue").Result()
		if err != nil {
			v = []string{err.Error()}
		}
		popped <- v
	}()
	for deadline := time.Now().Add(srvWait); ; time.Sleep(time.Millisecond) {
		if info, _ := c2.Info(ctx, "clients").Result(); strings.Contains(info, "blocked_clients:1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("BLPOP never blocked")
		}
	}
	if err := c2.RPush(ctx, "queue", "job").Err(); err != nil {
		t.Fatal(err)
	}
	if v := <-popped; !slices.Equal(v, []string{"queue", "job"}) {
		t.Fatalf("BLPOP: %q", v)
	}
	if _, err := c1.BZPopMin(ctx, 50*time.Millisecond, "nozset").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("BZPOPMIN timed out: %v, want redis.Nil", err)
	}

	// WATCH: the transaction runs when the key is untouched, and fails with
	// TxFailedErr when the other client wrote it in between.
	incr := func(interfere bool) error {
		return c1.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Get(ctx, "counter").Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			if interfere {
				c2.Set(ctx, "counter", 100, 0)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "counter", n+1, 0)
				return nil
			})
			return err
		}, "counter")
	}
	if err := incr(false); err != nil {
		t.Fatal(err)
	}
	if err := incr(true); !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("WATCHed key written by another client: %v, want TxFailedErr", err)
	}
	if n, _ := c1.Get(ctx, "counter").Int(); n != 100 {
		t.Fatalf("counter %d, want 100", n)
	}
	cmds, err := c1.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "counter")
		p.LPush(ctx, "counter", "x") // WRONGTYPE inside EXEC: the others still run
		p.Incr(ctx, "counter")
		return nil
	})
	if len(cmds) != 3 || cmds[0].(*redis.IntCmd).Val() != 101 || cmds[1].Err() == nil || cmds[2].(*redis.IntCmd).Val() != 102 {
		t.Fatalf("MULTI/EXEC: %v, %v", cmds, err)
	}

	// Pub/sub: a subscription on one loop, PUBLISH from the other.
	sub := c1.Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	psub := c2.PSubscribe(ctx, "ne*")
	defer psub.Close()
	if _, err := psub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := c2.Publish(ctx, "news", "hello").Result(); n != 2 || err != nil {
		t.Fatalf("PUBLISH: %d, %v", n, err)
	}
	for _, ps := range []*redis.PubSub{sub, psub} {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil || m.Channel != "news" || m.Payload != "hello" {
			t.Fatalf("message: %+v, %v", m, err)
		}
	}
}
