/**
 * Writes to one object reach the API server one after another, in the order they were asked
 * for: each is sent once the write before it under the same key has been answered, so an older
 * write never lands after a newer one. Keys are forgotten once their last write is answered.
 */
export class OrderedWrites {
  private readonly lastQueued = new Map<string, Promise<boolean>>();

  /** Sends `write` after the key's earlier writes; resolves with its answer. */
  after(key: string, write: () => Promise<boolean>): Promise<boolean> {
    const queued = (this.lastQueued.get(key) ?? Promise.resolve(true)).then(write);
    this.lastQueued.set(key, queued);
    void queued.then(() => {
      if (this.lastQueued.get(key) === queued) this.lastQueued.delete(key);
    });
    return queued;
  }

  /** Resolves once every write queued so far under the key has been answered. */
  async settled(key: string): Promise<void> {
    await this.lastQueued.get(key);
  }
}
