//! `multiprocessing.Pool` (see below).
