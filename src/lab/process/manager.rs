//! `multiprocessing.Manager` (see below).
