// What clients read from the stand-in over HTTP, per resource (storage key `group/plural`, core
// `/plural`): list requests and the items they served, watch streams and the events sent on them.
// Tests and benches assert on it (paged lists, watches narrowed by selectors, events per agent);
// in-process reads through StoreHandle are not counted.

/** Read traffic of one resource. */
export interface ReadStats {
  /** List requests; a paged list counts once per page. */
  lists: number;
  /** List requests that asked for a page (`limit` > 0). */
  pagedLists: number;
  /** Items served by those lists. */
  listItems: number;
  /** Watch streams opened. */
  watches: number;
  /** Watch streams opened with neither a label nor a field selector (every object of the resource). */
  unselectedWatches: number;
  /** ADDED, MODIFIED and DELETED events sent on watch streams (BOOKMARK and ERROR not counted). */
  watchEvents: number;
  /** Bytes of those events as written to the streams. */
  watchEventBytes: number;
}

const empty = (): ReadStats => ({ lists: 0, pagedLists: 0, listItems: 0, watches: 0, unselectedWatches: 0, watchEvents: 0, watchEventBytes: 0 });

export class Traffic {
  private readonly stats = new Map<string, ReadStats>();

  private of(key: string): ReadStats {
    let s = this.stats.get(key);
    if (!s) {
      s = empty();
      this.stats.set(key, s);
    }
    return s;
  }

  list(key: string, items: number, paged: boolean): void {
    const s = this.of(key);
    s.lists++;
    if (paged) s.pagedLists++;
    s.listItems += items;
  }

  watch(key: string, selected: boolean): void {
    const s = this.of(key);
    s.watches++;
    if (!selected) s.unselectedWatches++;
  }

  event(key: string, bytes: number): void {
    const s = this.of(key);
    s.watchEvents++;
    s.watchEventBytes += bytes;
  }

  /** Counters of one resource, zero when it was never read. */
  get(key: string): ReadStats {
    return { ...(this.stats.get(key) ?? empty()) };
  }

  /** Counters of every resource read so far, by storage key, sorted. */
  all(): Record<string, ReadStats> {
    return Object.fromEntries([...this.stats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { ...v }]));
  }

  reset(): void {
    this.stats.clear();
  }
}
