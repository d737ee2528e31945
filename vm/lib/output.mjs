// The guest's test output, streamed from the file its virtio console writes to: lines are
// printed as they arrive, except the two the host reads (NSBOX-VM-REPORT, NSBOX-VM-EXIT).

import { closeSync, openSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const MARKER = /^NSBOX-VM-(REPORT|EXIT) (.*)$/;

export class GuestOutput {
  constructor(path, write = (text) => process.stdout.write(text)) {
    this.path = path;
    this.write = write;
    this.offset = 0;
    this.partial = '';
    this.report = undefined;
    this.exitStatus = undefined;
  }

  /** Reads what arrived since the last call. */
  drain() {
    const fd = openSync(this.path, 'r');
    try {
      const buffer = Buffer.alloc(1 << 16);
      for (;;) {
        const read = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (read === 0) break;
        this.offset += read;
        this.take(buffer.subarray(0, read).toString('utf8'));
      }
    } finally {
      closeSync(fd);
    }
  }

  take(text) {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const raw of lines) {
      // The virtio console is a tty: lines end in \r\n.
      const line = raw.replace(/\r$/, '');
      const marker = MARKER.exec(line);
      if (marker?.[1] === 'REPORT') this.report = JSON.parse(marker[2]);
      else if (marker?.[1] === 'EXIT') this.exitStatus = Number(marker[2]);
      else this.write(`${line}\n`);
    }
  }

  /** Streams until done() resolves, then takes the rest. */
  async follow(done) {
    let finished = false;
    done.then(() => {
      finished = true;
    });
    while (!finished) {
      this.drain();
      await sleep(250);
    }
    this.drain();
    if (this.partial) this.take('\n');
  }
}
