// Times shown to a DBA: local time with its UTC offset ('2026-12-08 00:47:20+05:45'), as the newest pgBackRest shows them.
//
// Why local: backup labels are the backup's start in local time (pgBackRest's rule), so a time printed in UTC beside
// a label disagreed with it on any host outside UTC. The offset keeps the text unambiguous across daylight saving.

/** `epochMs` in the process's time zone (TZ), to the second, with the offset: '+01', '-03:30', '+00' in UTC. */
export function localTimeText(epochMs: number): string {
  const date = new Date(epochMs);
  const offset = -date.getTimezoneOffset();
  const hours = Math.floor(Math.abs(offset) / 60);
  const minutes = Math.abs(offset) % 60;
  const zone = `${offset < 0 ? '-' : '+'}${pad(hours)}${minutes === 0 ? '' : `:${pad(minutes)}`}`;
  return (
    `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`
  );
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}
