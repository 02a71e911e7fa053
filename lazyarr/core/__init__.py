"""The pure core: where a key becomes a read. Never imports tables, h5py or zarr.

``x[key]`` on any array goes through four steps, and only the last one
touches storage::

    x[key]
      -> core.plan.plan(key, shape, ...)    validate like NumPy (core.normalize),
                                             then ONE planner (fast path inside):
                                             reads + a post-key (ReadPlan)
      -> cache policy (lazyarr.cache)       none / swap window: the window gets
                                             the whole plan, one gather
      -> backend.read(sel)                  lazyarr/backends/: the only code that
                                             calls PyTables, h5py, zarr, blosc2
      -> post-key applied with NumPy        the result

Modules
-------
:mod:`lazyarr.core.selection`
    The orthogonal :data:`~lazyarr.core.selection.Selection` a backend reads,
    and one copy of each shared rule (shape, orthogonal key, runs and merging,
    unique+inverse, NumPy's advanced-axis placement, stacking blocks).
:mod:`lazyarr.core.normalize`
    A user's key validated like NumPy and resolved against a shape.
:mod:`lazyarr.core.plan`
    THE planner: :func:`~lazyarr.core.plan.plan`; plans are frozen values
    that compare by value and print readably.
:mod:`lazyarr.core.support`
    What a backend declares, and what the core computes for it.
:mod:`lazyarr.core.windows`
    A selection as the windows (merged runs) and boxes a hyperslab reader
    (PyTables) makes, and how to group them into calls.

What a backend declares (the API direct-I/O backends build on)
---------------------------------------------------------------
A backend class (or instance) sets two attributes; both have defaults in
:class:`lazyarr.backends.base.BackendBase`:

``support``: :class:`~lazyarr.core.support.IndexingSupport`
    ``NUMPY`` (the data is an ndarray or a memory map: the read path hands
    the user's key to ``backend.getitem(key)`` / ``backend.setitem(key,
    value)``, which index with NumPy -- NumPy validates -- and never return a
    view of the data; nothing is planned), ``POINTS``, ``ORTHOGONAL`` (the default: the backend protocol
    of :mod:`lazyarr.backends.base`), ``ONE_VECTOR`` (one index array per
    call, like h5py) or ``BASIC`` (positive-step slices only).
``cost``: :class:`~lazyarr.core.support.CostModel`
    ``call_bytes`` (a call's cost counted in bytes), ``gap_bytes`` (a gap
    worth reading through), ``piece_bytes``, ``chunks`` and ``blocks``
    (Blosc2 block shape inside a chunk).

The backend's ``read(sel)`` then gets a selection it declared it can read
(the read path cuts each selection for a ``ONE_VECTOR`` or ``BASIC``
backend with :func:`lazyarr.core.support.read_by_steps`, and writes with
:func:`~lazyarr.core.support.write_by_steps`);
the chunk/block projection of a selection -- which cells of a grid it
touches, the positions inside each, and where each part lands in the output
-- is :func:`lazyarr.core.support.project` (``project(sel, cost.chunks)``;
``project(local, cost.blocks)`` for the blocks inside one chunk), and
:func:`lazyarr.core.support.split_for` cuts a selection into the calls a
``ONE_VECTOR`` or ``BASIC`` backend makes. A backend executes those; it never
plans a read of its own.

Examples
--------
>>> from lazyarr.core.plan import plan
>>> plan((slice(None, None, -1), [4, 0, 4]), (3, 9)).post_key
(slice(None, None, -1), array([1, 0, 1]))
"""
