//! Small numbers for threads, distinct among the threads alive at once:
//! for striping per-thread state, such as the cache's read buffers, so
//! that threads running together do not share a stripe.
//!
//! A thread takes the lowest number free at its first call and gives it
//! back when it exits, so that threads started one after another, or a
//! pool that replaces its workers, go on using the same few numbers.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The numbers in use, as a pool: the ones given back, and the next never
/// given.
struct Numbers {
    free: BTreeSet<usize>,
    next: usize,
}

impl Numbers {
    const fn new() -> Numbers {
        Numbers { free: BTreeSet::new(), next: 0 }
    }

    /// The lowest number not in use.
    fn take(&mut self) -> usize {
        self.free.pop_first().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }
}

/// Every thread's number comes from here.
static NUMBERS: Mutex<Numbers> = Mutex::new(Numbers::new());

/// A number taken from `pool`, given back when dropped.
struct Held {
    number: usize,
    pool: &'static Mutex<Numbers>,
}

impl Held {
    fn take(pool: &'static Mutex<Numbers>) -> Held {
        let number = pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        Held { number, pool }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).free.insert(self.number);
    }
}

thread_local! {
    /// The calling thread's number once taken, `usize::MAX` before: a plain
    /// value, read without the state check that a local with a destructor
    /// needs.
    static NUMBER: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Gives the number back when the thread exits.
    static HELD: Cell<Option<Held>> = const { Cell::new(None) };
}

/// The calling thread's number: the lowest no other live thread holds when
/// it first asks, kept until it exits. While its locals are being destroyed
/// (after it gave its number back) a thread may share a number with another.
#[inline]
pub(crate) fn thread_number() -> usize {
    let number = NUMBER.get();
    if number != usize::MAX {
        return number;
    }
    first_number()
}

/// Takes the calling thread's number, at its first [`thread_number`].
#[cold]
#[inline(never)]
fn first_number() -> usize {
    let held = Held::take(&NUMBERS);
    let number = held.number;
    // While the thread's locals are being destroyed `HELD` may be gone:
    // then `held` goes back at once and the number is not kept.
    if HELD.try_with(|slot| slot.set(Some(held))).is_ok() {
        NUMBER.set(number);
    }
    number
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_number_and_threads_alive_at_once_have_their_own() {
        let mine = thread_number();
        assert_eq!(thread_number(), mine, "a thread keeps its number");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let number = thread_number();
                    // All eight hold their numbers here.
                    barrier.wait();
                    number
                })
            })
            .collect();
        let mut numbers: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        numbers.push(mine);
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), 9, "threads alive at once share no number");
    }

    #[test]
    fn a_number_given_back_is_the_next_one_taken_lowest_first() {
        // A pool of its own, so that other tests' threads do not interfere.
        static POOL: Mutex<Numbers> = Mutex::new(Numbers::new());
        let held: Vec<Held> = (0..4).map(|_| Held::take(&POOL)).collect();
        assert_eq!(held.iter().map(|h| h.number).collect::<Vec<_>>(), [0, 1, 2, 3]);
        let mut held = held.into_iter();
        let (zero, one, two, three) = (held.next().unwrap(), held.next().unwrap(), held.next().unwrap(), held.next().unwrap());
        drop(two);
        drop(one);
        assert_eq!(Held::take(&POOL).number, 1, "the lowest number given back goes first");
        // That one went back as it dropped: 1 and 2 are free again.
        let again = [Held::take(&POOL), Held::take(&POOL), Held::take(&POOL)];
        assert_eq!(again.iter().map(|h| h.number).collect::<Vec<_>>(), [1, 2, 4]);
        drop((zero, three));
    }
}
