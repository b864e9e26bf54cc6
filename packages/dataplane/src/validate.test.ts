import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@libcalico-ts/api';
import { formatIP, normalizeCidr, parseCidr, parseIP, parseMac, validateInterfaceName, validateMtu } from './validate.js';
import { sysctlPath, interfaceSysctl, workloadHostSysctls } from './sysctl.js';

test('interface names: 15 characters at most, no "/", ":" or whitespace', () => {
  assert.equal(validateInterfaceName('caliec0a6415ef1'), 'caliec0a6415ef1');
  for (const bad of ['', 'caliec0a6415ef12', 'a/b', 'a:b', 'a b', '.', '..', 42]) {
    assert.throws(() => validateInterfaceName(bad, 'hostIfName'), (e: unknown) => {
      assert.ok(ValidationError.isInstance(e));
      assert.equal((e as ValidationError).fields[0]!.name, 'hostIfName');
      return true;
    });
  }
});

test('MTU must be an integer 68..65535', () => {
  assert.equal(validateMtu(1450), 1450);
  for (const bad of [67, 65536, 1450.5, '1450', -1]) assert.throws(() => validateMtu(bad), ValidationError);
});

test('MAC parsing', () => {
  assert.deepEqual([...parseMac('EE:ee:ee:ee:ee:ee')], [0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
  assert.throws(() => parseMac('ee:ee:ee:ee:ee'), ValidationError);
  assert.throws(() => parseMac('zz:ee:ee:ee:ee:ee'), ValidationError);
});

test('IP parsing and canonical formatting (RFC 5952)', () => {
  assert.equal(parseIP('10.0.0.1').text, '10.0.0.1');
  assert.equal(parseIP('fe80:0:0:0:ecee:eeff:feee:eeee').text, 'fe80::ecee:eeff:feee:eeee');
  assert.equal(parseIP('2001:db8::1:0:0:1').text, '2001:db8::1:0:0:1');
  assert.equal(parseIP('::').text, '::');
  assert.equal(parseIP('::ffff:1.2.3.4').text, '::ffff:102:304');
  assert.equal(formatIP(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), '::1');
  for (const bad of ['10.0.0.256', '1.2.3', 'fe80::1%eth0', '', null]) assert.throws(() => parseIP(bad), ValidationError);
});

test('CIDR parsing: host routes, default, strict host bits', () => {
  assert.equal(normalizeCidr('10.0.0.1'), '10.0.0.1/32');
  assert.equal(normalizeCidr('default'), '0.0.0.0/0');
  assert.equal(normalizeCidr('default', 'dst', { defaultFamily: 6 }), '::/0');
  assert.equal(parseCidr('fd00::1/64').prefixLength, 64);
  assert.throws(() => parseCidr('10.0.0.1/24', 'dst', { strict: true }), /host bits/);
  assert.throws(() => parseCidr('10.0.0.0/33'), ValidationError);
});

test('sysctl keys: dotted, slash form for dotted interface names, segments', () => {
  assert.equal(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  assert.equal(sysctlPath('net/ipv4/conf/vxlan.calico/forwarding'), '/proc/sys/net/ipv4/conf/vxlan.calico/forwarding');
  assert.equal(sysctlPath(interfaceSysctl(4, 'neigh', 'cali1', 'proxy_delay')), '/proc/sys/net/ipv4/neigh/cali1/proxy_delay');
  assert.throws(() => sysctlPath('net..ipv4'), ValidationError);
  assert.throws(() => sysctlPath(['net', '..', 'x']), ValidationError);
  const keys = workloadHostSysctls('cali1', { ipv4: true, ipv6: false }).map((s) => `${s.key.join('.')}=${s.value}`);
  assert.deepEqual(keys, [
    'net.ipv4.conf.cali1.route_localnet=1',
    'net.ipv4.neigh.cali1.proxy_delay=0',
    'net.ipv4.conf.cali1.proxy_arp=1',
    'net.ipv4.conf.cali1.forwarding=1',
    'net.ipv6.conf.cali1.accept_ra=0',
  ]);
});

test('parseIP accepts exactly what net.isIP accepts (zone-less text), with the same family', async () => {
  const { isIP } = await import('node:net');
  const fc = (await import('fast-check')).default;
  const familyOf = (text: string): number => {
    try {
      return parseIP(text).family;
    } catch (error) {
      assert.ok(ValidationError.isInstance(error));
      return 0;
    }
  };
  const fixed = [
    '::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6::8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7',
    ':1', '1:', ':::', '1:::2', '1::2::3', '::ffff:10.0.0.1', '::10.0.0.1', '1:2:3:4:5:6:10.0.0.1', '1:2:3:4:5:6:7:10.0.0.1', '1:2:3:4:5:6::10.0.0.1',
    '::1.2.3', '::1.2.3.4.5', '::01.2.3.4', '::256.1.1.1', 'fe80::ecee:eeff:feee:eeee', 'FD00::5', '12345::', 'g::', '0000:0000::', '::0.0.0.0', '1.2.3.4',
    '', ':', 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', '1::2:3:4:5:6:7', '::a.1.2.3', '1:2::3:4.5.6.7', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789',
    '0.0.0.0', '255.255.255.255', '256.0.0.0', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '1.2.3.04', '10.0.0.1', ' 10.0.0.1', '::1 ',
  ];
  for (const text of fixed) assert.equal(familyOf(text), isIP(text), text);
  const piece = fc.constantFrom('0', '1', 'a', 'F', 'ff', '1234', '12345', ':', '::', '.', '10.0.0.1', '255', '00', '.1', '%');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 14 }), (parts) => {
      const text = parts.join('');
      if (text.includes('%')) {
        // node accepts a zone; the kernel-facing parser never does.
        assert.equal(familyOf(text), 0, text);
        return;
      }
      assert.equal(familyOf(text), isIP(text), text);
    }),
    { numRuns: 20000 },
  );
  // Every canonical address of random bytes parses back to the same bytes and text.
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const text = formatIP(bytes);
      assert.equal(isIP(text), 6, text);
      assert.deepEqual([...parseIP(text).bytes], [...bytes]);
      assert.equal(parseIP(text).text, text);
    }),
  );
  assert.throws(() => formatIP(new Uint8Array(5)), RangeError);
});
