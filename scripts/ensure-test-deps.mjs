#!/usr/bin/env node
// Makes sure the real components the test suites start are installed.
// As root on Debian it installs what is missing with apt-get; otherwise it names
// exactly what to install and fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian package -> a file that proves it is installed. */
const needed = [
  ['etcd-server', '/usr/bin/etcd'],
  ['bird2', '/usr/sbin/bird'],
  ['iptables', '/usr/sbin/iptables-restore'],
  ['iproute2', '/usr/bin/ip'],
  ['iputils-ping', '/usr/bin/ping'],
  ['containernetworking-plugins', '/usr/lib/cni/ptp'],
  ['golang-go', '/usr/bin/go'],
  ['golang-github-appc-cni-dev', '/usr/share/gocode/src/github.com/containernetworking/cni/libcni/api.go'],
  ['chromium', '/usr/bin/chromium'],
];

const missing = needed.filter(([, file]) => !existsSync(file)).map(([pkg]) => pkg);
if (missing.length === 0) {
  console.log('ensure-test-deps: all test components present');
  process.exit(0);
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const isDebian = existsSync('/etc/debian_version');
if (!isRoot || !isDebian) {
  console.error(`ensure-test-deps: missing Debian packages: ${missing.join(' ')}`);
  console.error(`install them with:\n  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}
console.log(`ensure-test-deps: installing ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
if (r.status !== 0) {
  console.error('ensure-test-deps: apt-get install failed');
  process.exit(1);
}
const still = needed.filter(([, file]) => !existsSync(file)).map(([pkg]) => pkg);
if (still.length > 0) {
  console.error(`ensure-test-deps: still missing after install: ${still.join(' ')}`);
  process.exit(1);
}
