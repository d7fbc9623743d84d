// Merged time intervals (unions of ops sorted by start): their length, their intersection, and how much of a span they cover.

/** Length of the union of sorted-by-start intervals, and the merged intervals themselves. */
export class Union {
  s: number[] = [];
  e: number[] = [];
  add(a: number, b: number): void {
    const n = this.e.length;
    if (n && a <= this.e[n - 1]) {
      if (b > this.e[n - 1]) this.e[n - 1] = b;
    } else {
      this.s.push(a);
      this.e.push(b);
    }
  }
  length(): number {
    let sum = 0;
    for (let i = 0; i < this.s.length; i++) sum += this.e[i] - this.s[i];
    return sum;
  }

  /** Length of [a, b) covered by the union (binary search for the first interval ending after a). */
  covered(a: number, b: number): number {
    let lo = 0;
    let hi = this.e.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.e[mid] <= a) lo = mid + 1;
      else hi = mid;
    }
    let sum = 0;
    for (let j = lo; j < this.s.length && this.s[j] < b; j++) sum += Math.min(b, this.e[j]) - Math.max(a, this.s[j]);
    return sum;
  }
}

/** |a ∩ b| of two merged unions (two pointers). */
export function intersection(a: Union, b: Union): number {
  let i = 0;
  let j = 0;
  let sum = 0;
  while (i < a.s.length && j < b.s.length) {
    const lo = Math.max(a.s[i], b.s[j]);
    const hi = Math.min(a.e[i], b.e[j]);
    if (hi > lo) sum += hi - lo;
    if (a.e[i] < b.e[j]) i++;
    else j++;
  }
  return sum;
}
