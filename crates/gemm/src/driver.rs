//! TEMPORARY naive driver so dependent crates compile; replaced by the blocked driver.
use crate::{Element, Parallelism};

pub(crate) struct Problem<T> {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub alpha: T,
    pub a: *const T,
    pub rsa: isize,
    pub csa: isize,
    pub b: *const T,
    pub rsb: isize,
    pub csb: isize,
    pub beta: T,
    pub c: *mut T,
    pub rsc: isize,
    pub csc: isize,
}

pub(crate) unsafe fn run<T: Element>(p: &Problem<T>, _par: Parallelism) {
    for i in 0..p.m {
        for j in 0..p.n {
            let mut s = T::ZERO;
            for l in 0..p.k {
                unsafe {
                    s = s + *p.a.offset(i as isize * p.rsa + l as isize * p.csa)
                        * *p.b.offset(l as isize * p.rsb + j as isize * p.csb);
                }
            }
            unsafe {
                let cp = p.c.offset(i as isize * p.rsc + j as isize * p.csc);
                *cp = if p.beta == T::ZERO {
                    p.alpha * s
                } else {
                    p.alpha * s + p.beta * *cp
                };
            }
        }
    }
}
