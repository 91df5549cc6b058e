//! Out-of-bounds reads past the ends of the operands: each of A, B and C is placed flush
//! against an inaccessible guard page (after its last element, or before its first), so any
//! read or write outside the matrix — a full-width vector load on a ragged edge, an in-place
//! panel running past the end — faults instead of silently reading a neighbour. (The other
//! tests catch strays inside the buffer with NaN and sentinel padding; this catches the rest.)
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::ffi::c_void;

use common::{Buffer, Layout, Operand, Real, Spec, buffers, judge, reference, rng};
use depthlab_gemm::{MatMut, MatRef, Parallelism, available_isas, gemm_on};
use rand::Rng;

// libc is linked by std on Linux; declaring the four calls avoids a dependency.
unsafe extern "C" {
    fn mmap(addr: *mut c_void, len: usize, prot: i32, flags: i32, fd: i32, off: i64)
    -> *mut c_void;
    fn mprotect(addr: *mut c_void, len: usize, prot: i32) -> i32;
    fn munmap(addr: *mut c_void, len: usize) -> i32;
    fn sysconf(name: i32) -> i64;
}
const PROT_NONE: i32 = 0;
const PROT_READ_WRITE: i32 = 1 | 2;
const MAP_PRIVATE_ANONYMOUS: i32 = 0x02 | 0x20;
const SC_PAGESIZE: i32 = 30;

/// `len` elements of `T` between two inaccessible pages, flush against one of them.
struct Guarded<T> {
    map: *mut u8,
    map_len: usize,
    data: *mut T,
    len: usize,
}

impl<T: Real> Guarded<T> {
    /// A copy of `src`; `flush_end` puts its last element just before the trailing guard
    /// page, otherwise its first element just after the leading one.
    fn copy_of(src: &[T], flush_end: bool) -> Guarded<T> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { sysconf(SC_PAGESIZE) }).expect("page size");
        let bytes = std::mem::size_of_val(src);
        let pages = bytes.div_ceil(page).max(1);
        let map_len = (pages + 2) * page;
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing.
        let map = unsafe {
            mmap(
                std::ptr::null_mut(),
                map_len,
                PROT_READ_WRITE,
                MAP_PRIVATE_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(map as isize != -1, "mmap failed");
        let map = map.cast::<u8>();
        // SAFETY: both ranges are whole pages inside the mapping just made.
        unsafe {
            assert_eq!(mprotect(map.cast(), page, PROT_NONE), 0);
            assert_eq!(
                mprotect(map.add((pages + 1) * page).cast(), page, PROT_NONE),
                0
            );
        }
        let start = if flush_end {
            (pages + 1) * page - bytes
        } else {
            page
        };
        // SAFETY: `start .. start + bytes` lies in the accessible pages (bytes ≤ pages·page),
        // and is aligned for T (page-aligned, minus a multiple of size_of::<T>()).
        let data = unsafe { map.add(start).cast::<T>() };
        // SAFETY: as above; the source is a distinct allocation.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), data, src.len()) };
        Guarded {
            map,
            map_len,
            data,
            len: src.len(),
        }
    }

    fn slice(&self) -> &[T] {
        // SAFETY: `len` initialised elements at `data`, alive as long as `self`.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }

    fn slice_mut(&mut self) -> &mut [T] {
        // SAFETY: as `slice`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }
}

impl<T> Drop for Guarded<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `copy_of`, unmapped once.
        unsafe { munmap(self.map.cast(), self.map_len) };
    }
}

/// A view of `buf`'s matrix over the guarded copy `g` of its data.
fn input<'g, T: Real>(g: &'g Guarded<T>, buf: &Buffer<T>, op: Operand) -> MatRef<'g, T> {
    let at = if op.trans { buf.at.t() } else { buf.at };
    let v = MatRef::from_parts(g.slice(), at.offset, at.rows, at.cols, at.rs, at.cs).unwrap();
    if op.trans { v.t() } else { v }
}

/// Runs `spec` with every operand flush against a guard page (ends chosen by `flush`).
fn guarded_check<T: Real>(
    isa: depthlab_gemm::Isa,
    spec: &Spec,
    flush: [bool; 3],
    rng: &mut rand_chacha::ChaCha8Rng,
) {
    let (a, b, c) = buffers::<T>(spec, rng);
    let (want, tol) = reference(spec, &a, &b, &c);
    let ga = Guarded::copy_of(&a.data, flush[0]);
    let gb = Guarded::copy_of(&b.data, flush[1]);
    let mut gc = Guarded::copy_of(&c.data, flush[2]);
    let (av, bv) = (input(&ga, &a, spec.a), input(&gb, &b, spec.b));
    let cat = c.at;
    let cv = MatMut::from_parts(
        gc.slice_mut(),
        cat.offset,
        cat.rows,
        cat.cols,
        cat.rs,
        cat.cs,
    )
    .unwrap();
    gemm_on(
        isa,
        Parallelism::Auto,
        T::from_f64(spec.alpha),
        av,
        bv,
        T::from_f64(spec.beta),
        cv,
    )
    .unwrap();
    let after = Buffer {
        data: gc.slice().to_vec(),
        at: c.at,
    };
    judge(
        &format!("{isa} guarded {flush:?}"),
        spec,
        &after,
        &c.data,
        &want,
        &tol,
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn tight(row_major: bool, neg_rows: bool, neg_cols: bool, pad: usize) -> Layout {
    Layout {
        row_major,
        pad,
        neg_rows,
        neg_cols,
        margin: 0,
    }
}

fn sweep<T: Real>() {
    let mut rng = rng(0x9a4d);
    for isa in available_isas() {
        // Every small shape, dense, both ends guarded in turn.
        for m in 1..=34 {
            for n in 1..=26 {
                for (k, row_major) in [(1, true), (7, false)] {
                    let l = tight(row_major, false, false, 0);
                    let spec = Spec {
                        beta: if m % 2 == 0 { 0.0 } else { -2.5 },
                        a: Operand::plain(l),
                        b: Operand::plain(l),
                        c: l,
                        ..Spec::dense(m, k, n)
                    };
                    let end = (m + n) % 2 == 0;
                    guarded_check::<T>(isa, &spec, [end, !end, end], &mut rng);
                }
            }
        }
        // Random shapes and tight layouts, flush at random ends.
        for _ in 0..400 {
            let mut dim = || rng.random_range(1..90);
            let (m, k, n) = (dim(), dim(), dim());
            let mut layout = || {
                tight(
                    rng.random(),
                    rng.random_bool(0.3),
                    rng.random_bool(0.3),
                    rng.random_range(0..2),
                )
            };
            let (la, lb, lc) = (layout(), layout(), layout());
            let spec = Spec {
                alpha: -2.5,
                beta: [0.0, 1.0][rng.random_range(0..2)],
                a: Operand {
                    layout: la,
                    trans: rng.random(),
                },
                b: Operand {
                    layout: lb,
                    trans: rng.random(),
                },
                c: lc,
                ..Spec::dense(m, k, n)
            };
            let flush = [rng.random(), rng.random(), rng.random()];
            guarded_check::<T>(isa, &spec, flush, &mut rng);
        }
    }
}

#[test]
fn no_access_past_either_end_of_any_operand() {
    sweep::<f32>();
    sweep::<f64>();
}

/// Set in the child's environment so the deliberately crashing test runs only there.
const CHILD_ENV: &str = "DEPTHLAB_GEMM_TEST_TOUCH_GUARD";

#[test]
fn the_guard_pages_really_fault() {
    use std::os::unix::process::ExitStatusExt;
    for end in ["after", "before"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_touch_guard",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, end)
            .output()
            .unwrap();
        // SIGSEGV: a read one element outside the buffer did fault.
        assert_eq!(
            out.status.signal(),
            Some(11),
            "touching the guard {end} the buffer did not fault: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
#[ignore = "crashes on purpose; run in a child process by the_guard_pages_really_fault"]
fn child_touch_guard() {
    let Ok(end) = std::env::var(CHILD_ENV) else {
        return;
    };
    let data = [1.0f32; 5];
    let after = end == "after";
    let g = Guarded::copy_of(&data, after);
    let p = g.slice().as_ptr();
    // SAFETY: deliberately not: the element just outside the buffer is on a guard page, and
    // this child process exists to show that reading it faults.
    let x = unsafe { std::ptr::read_volatile(if after { p.add(5) } else { p.sub(1) }) };
    println!("read {x} outside the buffer without a fault");
}
