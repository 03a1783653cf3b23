# Shared by test/cluster/up and test/cluster/down (sourced, not run).
# Every path the cluster uses lives under $STATE, except what the kernel and the CNI plugins
# keep elsewhere (bridge $BRIDGE, netns /var/run/netns/cni-*, /var/lib/cni/{networks,results},
# iptables chains, kubepods cgroups, /var/log/containers links): `down` removes those too.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=${MESSAGER_CLUSTER_STATE:-/tmp/messager-cluster}
NET=messager-ci            # CNI network name (host-local leases: /var/lib/cni/networks/$NET)
BRIDGE=msgci0
SUBNET=10.244.0.0/24
GW=10.244.0.1              # the bridge address: relays to host Redis/PostgreSQL listen here
SVC_CIDR=10.96.0.0/16
ETCD_PORT=18479            # away from a packaged etcd's 2379
RELAY_REDIS_PORT=18463
RELAY_PG_PORT=18464
DATABASES="messager_k8s messager_k8s_kustomize"   # on the host PostgreSQL: chart, k8s/ manifests
REDIS_DBS="7 8"                                   # on the host Redis, in the same order
# Kernel settings the kubelet, kube-proxy or the bridge plugin may change: saved by up, put back by down.
SYSCTLS="net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
 kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet
 net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables"

log() { printf '%s [%5ss] %s\n' "$(date +%H:%M:%S)" "$(( $(date +%s) - ${T0:-$(date +%s)} ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# start NAME CMD...: run a daemon in the background, its PID in $STATE/run/NAME.pid.
start() {
  local n=$1; shift
  nohup "$@" > "$STATE/logs/$n.log" 2>&1 < /dev/null &
  echo $! > "$STATE/run/$n.pid"
  echo "$n" >> "$STATE/run/started"
}
running() { [ -f "$STATE/run/$1.pid" ] && kill -0 "$(cat "$STATE/run/$1.pid")" 2>/dev/null; }
