package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/messager/messager/internal/auth"
	"github.com/messager/messager/internal/testenv"
)

// BenchmarkSessionLookup times RedisSessions.Lookup (one GETEX and a JSON
// decode) against the Redis testenv selects: embedded, or real under
// MESSAGER_TEST_REDIS_URL.
func BenchmarkSessionLookup(b *testing.B) {
	rdb, _ := testenv.RedisClient(b)
	sessions := auth.NewRedisSessions(rdb)
	ctx := context.Background()
	p := auth.Principal{UserID: 42, Username: "lanaro", Usercode: "LANA01"}
	token, err := sessions.Create(ctx, p, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	// check reports a wrong lookup with Errorf, not Fatalf: RunParallel
	// calls it from goroutines of its own, where FailNow must not be called.
	check := func(b *testing.B, got auth.Principal, err error) bool {
		if err != nil || got != p {
			b.Errorf("Lookup = %+v, %v", got, err)
			return false
		}
		return true
	}
	b.Run("mode=serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got, err := sessions.Lookup(ctx, token, time.Hour)
			if !check(b, got, err) {
				b.FailNow()
			}
		}
	})
	b.Run("mode=parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				got, err := sessions.Lookup(ctx, token, time.Hour)
				if !check(b, got, err) {
					return
				}
			}
		})
	})
}

func TestRedisSessions_LookupSlidesAndDeleteRevokes(t *testing.T) {
	rdb, _ := testenv.RedisClient(t)
	s := auth.NewRedisSessions(rdb)
	ctx := context.Background()
	p := auth.Principal{UserID: 7, Username: "paper", Usercode: "PAPER1"}
	token, err := s.Create(ctx, p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) < 22 { // 128 bits in base64url
		t.Fatalf("token %q is shorter than 128 bits", token)
	}
	got, err := s.Lookup(ctx, token, time.Hour)
	if err != nil || got != p {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	keys, err := rdb.Keys(ctx, "messager:session:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("session keys = %v, %v", keys, err)
	}
	if ttl := rdb.TTL(ctx, keys[0]).Val(); ttl <= time.Minute {
		t.Fatalf("TTL after Lookup = %v, want it slid to about an hour", ttl)
	}
	for _, k := range keys {
		if len(k) < 64 || k == "messager:session:"+token {
			t.Fatalf("session stored under the plain token: %q", k)
		}
	}
	if err := s.Delete(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, token, time.Hour); err != auth.ErrUnauthenticated {
		t.Fatalf("Lookup after Delete = %v, want ErrUnauthenticated", err)
	}
	if _, err := s.Lookup(ctx, "unknown", time.Hour); err != auth.ErrUnauthenticated {
		t.Fatalf("unknown token = %v", err)
	}
}
