// A keyed mailbox: messages that arrive before anyone waits are kept, and a wait for one not yet here is answered on arrival.
export class Mailbox<T> {
  private items = new Map<string, T>();
  private waiters = new Map<string, (m: T) => void>();
  put(key: string, m: T): void {
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      w(m);
    } else this.items.set(key, m);
  }
  has(key: string): boolean {
    return this.items.has(key);
  }
  take(key: string): Promise<T> {
    const m = this.items.get(key);
    if (m !== undefined) {
      this.items.delete(key);
      return Promise.resolve(m);
    }
    return new Promise((resolve) => this.waiters.set(key, resolve));
  }
}
