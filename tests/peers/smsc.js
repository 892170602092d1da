'use strict';
// An SMSC for tests that no one on this project wrote: the npm `smpp` 0.5.1 server.
// Usage: node smsc.js RECORD_FILE [PORT]   (PORT 0 or absent: a free port)
// Prints "LISTENING <port>" once it listens. Answers bind_transceiver/bind_transmitter,
// enquire_link, unbind; answers each submit_sm with a message id and appends it to RECORD_FILE
// as one JSON line: addresses, esm_class, data_coding, registered_delivery, short_message (hex,
// raw bytes including any UDH), the port and SAR TLVs, and the raw PDU (hex).
// Raw bytes: the library's decode filter splits the UDH off and decodes text, so it is turned off
// and a copy of each PDU buffer is kept (this touches internals: smpp is pinned to 0.5.1).
const fs = require('fs');
const smpp = require('smpp');

const [recordFile, portArg] = process.argv.slice(2);
if (!recordFile) {
  console.error('usage: node smsc.js RECORD_FILE [PORT]');
  process.exit(2);
}

const PDU = smpp.PDU;
const originalFromBuffer = PDU.prototype.fromBuffer;
PDU.prototype.fromBuffer = function (buffer) {
  this._raw = Buffer.from(buffer.subarray(0, buffer.readUInt32BE(0)));
  return originalFromBuffer.call(this, buffer);
};
const originalFilter = PDU.prototype._filter;
PDU.prototype._filter = function (func) {
  if (func === 'decode') return; // keep short_message and message_payload as raw buffers
  return originalFilter.call(this, func);
};

let nextId = 1;
const hex = (b) => (Buffer.isBuffer(b) ? b.toString('hex') : null);
const tlv = (v) => (v === undefined ? null : v);

const server = smpp.createServer((session) => {
  const bind = (pdu) => {
    session.send(pdu.response({ system_id: 'npm-smpp' }));
  };
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    const messageId = 'npm' + String(nextId++).padStart(6, '0');
    const record = {
      message_id: messageId,
      sequence_number: pdu.sequence_number,
      service_type: pdu.service_type,
      source_addr_ton: pdu.source_addr_ton,
      source_addr_npi: pdu.source_addr_npi,
      source_addr: pdu.source_addr,
      dest_addr_ton: pdu.dest_addr_ton,
      dest_addr_npi: pdu.dest_addr_npi,
      destination_addr: pdu.destination_addr,
      esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery,
      data_coding: pdu.data_coding,
      short_message: hex(pdu.short_message),
      message_payload: hex(pdu.message_payload),
      source_port: tlv(pdu.source_port),
      dest_port: tlv(pdu.dest_port),
      sar_msg_ref_num: tlv(pdu.sar_msg_ref_num),
      sar_total_segments: tlv(pdu.sar_total_segments),
      sar_segment_seqnum: tlv(pdu.sar_segment_seqnum),
      raw: hex(pdu._raw),
    };
    fs.appendFileSync(recordFile, JSON.stringify(record) + '\n');
    session.send(pdu.response({ message_id: messageId }));
  });
  session.on('error', () => {});
});

server.listen(Number(portArg || 0), '127.0.0.1', () => {
  console.log('LISTENING ' + server.address().port);
});
process.on('SIGTERM', () => process.exit(0));
