// Tool-call overhead with C peers: a synchronous echo through the platform
// (auth, rate limit, lookups, schema check, job + events + action log in
// SQLite, worker, MCP executor on the connection's kept session, waiter)
// versus the same tools/call sent straight to the same MCP server, in one run.
//
//   TC_BIN=build-rel/bin/toolconnect node bench/exec/bench_exec_fast.mjs \
//     [--n 3000] [--warmup 300] [--conc 16] [--tput-n 10000] [--workers 8] [--rounds 1]
//
// Unlike bench_exec.mjs (node HTTP client, node upstream), both ends here are
// C so they leave the 2 cores to the server under test:
//   - upstream: bench/exec/mcp_echo_server (libmicrohttpd, ~40 µs/call CPU;
//     the MCP SDK node server costs ~1.4 ms/call);
//   - client: bench/exec/loadgen (raw sockets + epoll, ~10 µs/call CPU).
// Binaries: MCP_ECHO_BIN and LOADGEN_BIN, default next to TC_BIN.
//
// Phases, each with the CPU time (utime+stime from /proc/<pid>/stat) of the
// server, the peer and the loadgen, and the machine's busy share (/proc/stat)
// so neighbours' load is visible:
//   1. seq: --n rounds of [platform echo, direct echo], one call at a time;
//      p50/p99 of each and of the per-round difference (the overhead);
//   2. conc: --tput-n calls with --conc in flight through the platform;
//   3. conc: the same straight to the peer.
// --perf FILE records the server with `perf record -g` during the first
// platform throughput phase (then: perf report -i FILE --no-children).
// --rounds R repeats phases 2-3 R times (alternating) and reports each.
// Prints one JSON summary on stdout; progress on stderr.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

import { startServer, request, binary } from '../../tests/blackbox/lib/server.mjs';
import { writeCatalog, signup } from '../../tests/blackbox/lib/standin.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const N = Number(opt('n', 3000));
const WARMUP = Number(opt('warmup', 300));
const CONC = Number(opt('conc', 16));
const TPUT_N = Number(opt('tput-n', 10000));
const WORKERS = opt('workers', '8');
const ROUNDS = Number(opt('rounds', 1));
const PERF = opt('perf', null); // perf.data path: profile the server in the first platform conc phase
const binDir = path.dirname(path.resolve(binary()));
const PEER_BIN = process.env.MCP_ECHO_BIN || path.join(binDir, 'mcp_echo_server');
const LOADGEN = process.env.LOADGEN_BIN || path.join(binDir, 'loadgen');
const TICK = 100; // USER_HZ: /proc/<pid>/stat times are in 1/100 s on Linux
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

function startPeer() {
  return new Promise((resolve, reject) => {
    const p = spawn(PEER_BIN, [], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const t = setTimeout(() => reject(new Error('mcp_echo_server did not start')), 10000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/LISTENING (\d+)/);
      if (m) { clearTimeout(t); resolve({ proc: p, url: `http://127.0.0.1:${m[1]}/mcp` }); }
    });
    p.on('error', reject);
  });
}

// CPU seconds (user+system) a process has used so far.
function procCpu(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 on
  return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
}

// Machine-wide busy and total jiffies (all cores).
function machine() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

// Runs loadgen asynchronously (the server's log pipe must keep draining).
function loadgen(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('exit', (code) => {
      try { resolve(JSON.parse(out)); } catch { reject(new Error(`loadgen exited ${code}: ${out}`)); }
    });
  });
}

// Runs one loadgen phase and measures everyone's CPU around it. calls: how
// many calls each process served in it (for CPU per call; 0 = idle).
async function phase(name, args, pids, calls) {
  log(`phase ${name} ...`);
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procCpu(pid)]));
  const m0 = machine();
  const node0 = process.cpuUsage();
  const out = await loadgen(args);
  const m1 = machine();
  const node1 = process.cpuUsage(node0);
  const used = {};
  for (const [k, pid] of Object.entries(pids)) used[k] = procCpu(pid) - before[k];
  used.loadgen = out.loadgen_cpu_s;
  used.harness_node = (node1.user + node1.system) / 1e6;
  const cpu = {};
  for (const [k, s] of Object.entries(used)) {
    cpu[k] = { cpu_s: +s.toFixed(2) };
    if (calls[k]) cpu[k].us_per_call = +((s * 1e6) / calls[k]).toFixed(1);
  }
  const ours = Object.values(used).reduce((a, b) => a + b, 0);
  const machineBusyS = (m1.busy - m0.busy) / TICK;
  return {
    out,
    cpu,
    machine: {
      secs: out.secs,
      busy_share: +((m1.busy - m0.busy) / (m1.total - m0.total)).toFixed(3),
      others_cpu_s: +Math.max(0, machineBusyS - ours).toFixed(2), // neighbours' CPU in the same window
    },
  };
}

const us = (x) => +(x / 1000).toFixed(3); // µs -> ms
const lat = (l) => ({ p50_ms: us(l.p50_us), p90_ms: us(l.p90_us), p99_ms: us(l.p99_us), mean_ms: us(l.mean_us) });
const fails = (t) => ({ ok: t.ok, fail: t.fail, first_failure: t.first_failure });

async function main() {
  const peer = await startPeer();
  const catalogDir = writeCatalog([{
    slug: 'bench', name: 'Bench MCP', description: 'bench/exec/mcp_echo_server', category: 'testing',
    mcp: { url: peer.url }, auth: { type: 'none' }, tools: [],
  }]);
  const srv = await startServer({
    env: {
      TC_CATALOG_PATH: catalogDir, TC_ALLOW_PRIVATE_TARGETS: '1', TC_JOB_WORKERS: WORKERS,
      TC_RATE_USER_PER_MIN: '100000000', TC_RATE_CONNECTOR_PER_MIN: '100000000',
    },
  });
  try {
    const h = await signup(srv, 'bench@example.com');
    const d = await srv.request('POST', '/api/connectors/bench/discover', { headers: h });
    if (d.status !== 200) throw new Error(`discover: ${d.status} ${d.text}`);
    const c = await srv.request('POST', '/api/connections', { headers: h, body: { connector: 'bench', credentials: {} } });
    if (c.status !== 201) throw new Error(`connection: ${c.status} ${c.text}`);

    // The direct path: one initialized session, like the platform's kept one.
    const acc = { Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json' };
    const init = await request(peer.url, {
      method: 'POST', headers: acc,
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } },
    });
    const sid = init.headers['mcp-session-id'];
    const version = init.json?.result?.protocolVersion;
    if (init.status !== 200 || !sid) throw new Error(`initialize: ${init.status} ${init.text}`);
    const sh = { ...acc, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': version };
    const note = await request(peer.url, { method: 'POST', headers: sh, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    if (note.status !== 202) throw new Error(`initialized: ${note.status}`);

    const hdr = (o) => Object.entries(o).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const platformReq = [
      '--url', `${srv.url}/api/connectors/bench/tools/echo/execute`,
      ...hdr({ ...h, 'Content-Type': 'application/json' }),
      '-d', JSON.stringify({ connection_id: c.json.id, arguments: { message: 'hi' } }),
      '--expect', '200', '--expect-body', '"succeeded"',
    ];
    const directReq = [
      '--url', peer.url, ...hdr(sh),
      '-d', JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } }),
      '--expect', '200', '--expect-body', 'Echo: hi',
    ];
    const pids = { server: srv.pid, peer: peer.proc.pid };

    // Warm-ups run as their own loadgen calls so the measured windows hold
    // only measured calls.
    await loadgen(['seq', '--n', String(WARMUP), ...platformReq, ...directReq]);
    const seq = await phase('seq', ['seq', '--n', String(N), ...platformReq, ...directReq], pids,
      { server: N, peer: 2 * N, loadgen: 2 * N, harness_node: 2 * N });
    const rounds = [];
    const conc = (req) => ['conc', '--n', String(TPUT_N), '--c', String(CONC), ...req];
    for (let r = 0; r < ROUNDS; r++) {
      await loadgen(['conc', '--n', String(CONC * 20), '--c', String(CONC), ...platformReq]);
      const rec = PERF && r === 0
        ? spawn('perf', ['record', '-q', '-F', '499', '-g', '-o', PERF, '-p', String(srv.pid)], { stdio: 'inherit' })
        : null;
      const p = await phase(`conc platform #${r + 1}`, conc(platformReq), pids,
        { server: TPUT_N, peer: TPUT_N, loadgen: TPUT_N, harness_node: TPUT_N });
      if (rec) {
        rec.kill('SIGINT');
        await new Promise((res) => rec.on('exit', res));
      }
      const q = await phase(`conc direct #${r + 1}`, conc(directReq), pids,
        { peer: TPUT_N, loadgen: TPUT_N, harness_node: TPUT_N });
      rounds.push({
        platform: { calls_per_s: Math.round(p.out.ok_per_s), ...fails(p.out.target), latency: lat(p.out.target.latency), cpu: p.cpu, machine: p.machine },
        direct: { calls_per_s: Math.round(q.out.ok_per_s), ...fails(q.out.target), latency: lat(q.out.target.latency), cpu: q.cpu, machine: q.machine },
      });
    }

    const logs = srv.logLines();
    const bad = logs.filter((l) => ['warn', 'error'].includes(l.level));
    const size = (f) => { try { return fs.statSync(path.join(srv.dataDir, f)).size; } catch { return 0; } };
    const platformCalls = N + WARMUP + ROUNDS * (TPUT_N + CONC * 20);
    // The group commit's batching over the whole run (server /metrics).
    const metrics = (await srv.request('GET', '/metrics')).text;
    const metric = (name) => Number((metrics.match(new RegExp(`^${name} (\\d+)$`, 'm')) || [])[1]);
    const commits = metric('tc_exec_commits_total');
    const pieces = metric('tc_exec_commit_pieces_total');
    const summary = {
      date: new Date().toISOString(),
      setup: {
        cores: (await import('node:os')).cpus().length, workers: Number(WORKERS), database: 'sqlite', upstream: 'mcp_echo_server (C, Streamable HTTP, JSON answers)',
        client: 'loadgen (C, keep-alive)', mcp_protocol: version,
      },
      overhead_seq: {
        calls: N,
        platform: { ...lat(seq.out.a.latency), ...fails(seq.out.a) },
        direct: { ...lat(seq.out.b.latency), ...fails(seq.out.b) },
        overhead: lat(seq.out.diff),
        cpu: seq.cpu,
        machine: seq.machine,
      },
      throughput: { concurrency: CONC, calls: TPUT_N, rounds },
      group_commit: { commits, pieces, pieces_per_commit: Number((pieces / commits).toFixed(2)) },
      server_logs: { lines: logs.length, warn_or_error: bad.length, first: bad.slice(0, 5) },
      sqlite: {
        platform_calls: platformCalls,
        db_bytes_per_call: Math.round(size('toolconnect.db') / platformCalls),
        wal_bytes: size('toolconnect.db-wal'),
      },
    };
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    await srv.stop();
    peer.proc.kill('SIGTERM');
    fs.rmSync(catalogDir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
