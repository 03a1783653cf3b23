package storage

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/messager/messager/internal/config"
)

// A Redis that accepts connections and closes them at once (restarting,
// or a load balancer in front of a dead one) is down, like one that
// refuses them: requests get 503 with Retry-After, not a 500.
func TestIsRedisDown_AConnectionClosedByTheServerIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	rdb, err := OpenRedis(config.Redis{Mode: config.RedisStandalone, URL: "redis://" + ln.Addr().String() + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	err = rdb.Ping(context.Background()).Err()
	if err == nil {
		t.Fatal("PING through a closing server succeeded")
	}
	if !IsRedisDown(err) {
		t.Fatalf("IsRedisDown(%v) = false, want true", err)
	}
	if IsRedisDown(redis.Nil) || IsRedisDown(errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")) {
		t.Fatal("a missing key or a command error is not Redis being down")
	}
}
