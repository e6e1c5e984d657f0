// A Node ws client against an echo server: text, binary, a fragmented
// message, a ping, a large compressible message, and a close with a code.
// Prints OK, or exits with 1.
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[2], { perMessageDeflate: true });
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail('timeout'), 20000).unref();
const big = 'abc'.repeat(200000);
const expect = [
  ['héllo', false], [Buffer.from([0, 1, 255]), true], ['fragmented', false], [big, false],
];
let step = 0;
ws.on('open', () => {
  if (!/permessage-deflate/.test(ws.extensions)) fail('no deflate: ' + ws.extensions);
  ws.send('héllo');
  ws.send(Buffer.from([0, 1, 255]));
  ws.send('frag', { fin: false });
  ws.send('men', { fin: false });
  ws.send('ted', { fin: true });
  ws.send(big);
});
ws.on('message', (data, isBinary) => {
  const [want, bin] = expect[step++];
  if (isBinary !== bin || !Buffer.from(data).equals(Buffer.from(want))) fail('step ' + step + ': got ' + String(data).slice(0, 40));
  if (step === expect.length) ws.ping('are you there');
});
ws.on('pong', (data) => {
  if (String(data) !== 'are you there') fail('pong ' + data);
  ws.close(4000, 'bye');
});
ws.on('close', (code) => {
  if (code !== 4000) fail('close ' + code);
  console.log('OK');
});
ws.on('error', (e) => fail(String(e)));
