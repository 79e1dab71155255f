// Compiles Solidity with the solc package: reads a standard-JSON input on
// stdin, writes solc's standard-JSON output on stdout.
const solc = require('solc');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
