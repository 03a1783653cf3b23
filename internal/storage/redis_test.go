package storage

import (
	"crypto/tls"
	"slices"
	"testing"
	"time"

	"github.com/messager/messager/internal/config"
)

// A password-protected (or TLS) Sentinel or Cluster deployment gets its
// credentials, database and TLS from spec.redis.url, the one secret the
// deployment supplies, as a standalone one does; before, both modes
// connected without them and every command failed with NOAUTH.
func TestRedisOptionsFor_SentinelAndClusterTakeCredentialsAndTLSFromTheURL(t *testing.T) {
	sentinels := []string{"s1:26379", "s2:26379"}
	o, err := redisOptionsFor(config.Redis{Mode: config.RedisSentinel, MasterName: "mymaster", Addrs: sentinels, URL: "rediss://app:s3cret@ignored:6379/2"})
	if err != nil {
		t.Fatal(err)
	}
	f := o.sentinel
	if f == nil || o.cluster != nil || o.standalone != nil {
		t.Fatalf("sentinel mode built %+v", o)
	}
	if f.MasterName != "mymaster" || !slices.Equal(f.SentinelAddrs, sentinels) || f.Username != "app" || f.Password != "s3cret" || f.DB != 2 {
		t.Errorf("sentinel options: master %q addrs %v user %q password %q db %d", f.MasterName, f.SentinelAddrs, f.Username, f.Password, f.DB)
	}
	// Each node is verified against its own address, not the URL's host.
	if f.TLSConfig == nil || f.TLSConfig.ServerName != "" || f.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("sentinel TLS %+v: want TLS 1.2+, server name from each address", f.TLSConfig)
	}
	if f.SentinelUsername != "" || f.SentinelPassword != "" {
		t.Errorf("sentinel credentials %q/%q: the config has none", f.SentinelUsername, f.SentinelPassword)
	}
	checkShared(t, "sentinel", f.PoolSize, f.DialTimeout, f.MaxRetries)

	nodes := []string{"n1:6379", "n2:6379", "n3:6379"}
	o, err = redisOptionsFor(config.Redis{Mode: config.RedisCluster, Addrs: nodes, URL: "redis://:s3cret@ignored:6379/0"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cluster
	if c == nil || o.sentinel != nil || o.standalone != nil {
		t.Fatalf("cluster mode built %+v", o)
	}
	if !slices.Equal(c.Addrs, nodes) || c.Username != "" || c.Password != "s3cret" || c.TLSConfig != nil {
		t.Errorf("cluster options: addrs %v user %q password %q tls %v", c.Addrs, c.Username, c.Password, c.TLSConfig)
	}
	checkShared(t, "cluster", c.PoolSize, c.DialTimeout, c.MaxRetries)
}

func TestRedisOptionsFor_EachMode(t *testing.T) {
	for _, c := range []struct {
		name    string
		cfg     config.Redis
		wantErr bool
	}{
		{"sentinel without a url: no credentials", config.Redis{Mode: config.RedisSentinel, MasterName: "m", Addrs: []string{"s:26379"}}, false},
		{"cluster without a url", config.Redis{Mode: config.RedisCluster, Addrs: []string{"n:6379"}}, false},
		{"cluster has no database but 0", config.Redis{Mode: config.RedisCluster, Addrs: []string{"n:6379"}, URL: "redis://:pw@x/3"}, true},
		{"sentinel with a url that is not one", config.Redis{Mode: config.RedisSentinel, MasterName: "m", Addrs: []string{"s:26379"}, URL: "http://x"}, true},
		{"standalone needs a url", config.Redis{Mode: config.RedisStandalone}, true},
		{"standalone", config.Redis{Mode: config.RedisStandalone, URL: "rediss://u:pw@cache.example:6380/4"}, false},
	} {
		o, err := redisOptionsFor(c.cfg)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err %v, want error %v", c.name, err, c.wantErr)
			continue
		}
		switch {
		case err != nil:
		case o.sentinel != nil:
			if o.sentinel.Password != "" || o.sentinel.TLSConfig != nil {
				t.Errorf("%s: %+v", c.name, o.sentinel)
			}
		case o.cluster != nil:
			if o.cluster.Password != "" || o.cluster.TLSConfig != nil {
				t.Errorf("%s: %+v", c.name, o.cluster)
			}
		case o.standalone != nil:
			s := o.standalone
			if s.Addr != "cache.example:6380" || s.Username != "u" || s.Password != "pw" || s.DB != 4 || s.TLSConfig == nil || s.TLSConfig.ServerName != "cache.example" {
				t.Errorf("%s: %+v", c.name, s)
			}
			checkShared(t, c.name, s.PoolSize, s.DialTimeout, s.MaxRetries)
		default:
			t.Errorf("%s: no options built", c.name)
		}
	}
}

func checkShared(t *testing.T, mode string, pool int, dial time.Duration, retries int) {
	t.Helper()
	if pool != 64 || dial != 2*time.Second || retries != 1 {
		t.Errorf("%s: pool %d, dial timeout %v, retries %d; want 64, 2s, 1", mode, pool, dial, retries)
	}
}
