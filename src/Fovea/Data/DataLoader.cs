using System.Collections;
using System.Runtime.ExceptionServices;
using Fovea.Tensors;

namespace Fovea.Data;

/// <summary>
/// One mini-batch. Owned by the <see cref="DataLoader"/> that made it and recycled: see <see cref="DataLoader"/> for how long it stays valid.
/// </summary>
public sealed class Batch
{
    internal Batch(Tensor images, int[] labels)
    {
        Images = images;
        Labels = labels;
    }

    /// <summary>Images, shape [Count, C, H, W].</summary>
    public Tensor Images { get; }

    /// <summary>Labels, <see cref="Count"/> long.</summary>
    public int[] Labels { get; }

    /// <summary>Number of samples: the batch size, or fewer for the last batch of an epoch when dropLast is off.</summary>
    public int Count => Labels.Length;

    /// <summary>Position of this batch within its epoch, from 0.</summary>
    public int Index { get; internal set; }
}

/// <summary>
/// Cuts a dataset into mini-batches, one epoch per enumeration, optionally shuffled and augmented, and prepares the next
/// batch on a background task while the caller works on the current one.
/// <para><b>Lifetime of a batch:</b> batches live in three recycled buffers, so a steady-state epoch allocates nothing per batch.
/// A <see cref="Batch"/> returned by MoveNext stays valid until the next-but-one call to MoveNext: while you hold batch k you may
/// still read batch k-1, but calling MoveNext again (to get k+1) lets the loader overwrite batch k-1. Clone the tensor
/// (<see cref="Tensor.Clone"/>) and copy the labels to keep them longer.</para>
/// <para><b>Order:</b> epoch e (counting from 0) shuffles with a generator seeded by (seed, e), so the same seed gives the same
/// sequence of orders, and successive epochs differ. Enumerating the loader itself starts the next epoch
/// (<see cref="EpochsStarted"/> counts them); <see cref="ForEpoch(int)"/> replays a given epoch.</para>
/// <para><b>Reading:</b> a batch is read image by image with <see cref="IDataset.CopyImage"/>, or in one call of
/// <see cref="IBatchReadDataset.CopyImages"/> when the dataset implements it (e.g. image files decoded in parallel).</para>
/// <para><b>Threads:</b> the dataset is read from the background task only; only one epoch of a loader may be enumerated at a
/// time. An exception while preparing a batch is rethrown by the MoveNext that would have returned it. Disposing the enumerator
/// (foreach does this, also on break) or the loader stops and waits for the background task.</para>
/// </summary>
public sealed class DataLoader : IEnumerable<Batch>, IDisposable
{
    private const int BufferCount = 3;

    private readonly IDataset _dataset;
    private readonly int _seed;
    private readonly int _channels, _height, _width, _sampleSize;
    private readonly Batch[] _slots = new Batch[BufferCount];
    private readonly float[] _scratch;
    private readonly int[] _order;
    private EpochEnumerator? _active;
    private bool _disposed;

    /// <summary>Creates a loader.</summary>
    /// <param name="dataset">Samples to batch; read from a background thread.</param>
    /// <param name="batchSize">Samples per batch; positive.</param>
    /// <param name="shuffle">Visit samples in a seeded random order each epoch (default true); false keeps dataset order.</param>
    /// <param name="seed">Seed of the shuffle and augmentation draws. Default 0.</param>
    /// <param name="dropLast">Skip the last batch of an epoch when it would be smaller than <paramref name="batchSize"/>. Default false.</param>
    /// <param name="augmentation">Random changes per sample, or null (default) for none.</param>
    public DataLoader(IDataset dataset, int batchSize, bool shuffle = true, int seed = 0, bool dropLast = false, Augmentation? augmentation = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"Batch size must be positive; got {batchSize}.");
        var shape = dataset.SampleShape;
        if (shape.Length != 3) throw new ArgumentException($"Dataset sample shape must be [C, H, W]; got [{string.Join(", ", shape)}].", nameof(dataset));
        (_channels, _height, _width) = (shape[0], shape[1], shape[2]);
        _sampleSize = _channels * _height * _width;
        augmentation?.Validate(_height, _width);
        _dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        _seed = seed;
        DropLast = dropLast;
        Augmentation = augmentation;
        _scratch = augmentation is null ? [] : new float[_sampleSize];
        _order = new int[dataset.Count];
        int n = dataset.Count;
        BatchesPerEpoch = dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /// <summary>The dataset batched.</summary>
    public IDataset Dataset => _dataset;

    /// <summary>Samples per full batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits samples in a seeded random order.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether a final short batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>Per-sample augmentation, or null.</summary>
    public Augmentation? Augmentation { get; }

    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>Epochs started by enumerating the loader; the next enumeration runs epoch number EpochsStarted.</summary>
    public int EpochsStarted { get; private set; }

    /// <summary>Starts the next epoch (number <see cref="EpochsStarted"/>).</summary>
    public IEnumerator<Batch> GetEnumerator()
    {
        var e = Start(EpochsStarted, 0);
        EpochsStarted++;
        return e;
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The batches of epoch <paramref name="epoch"/> (from 0), without advancing <see cref="EpochsStarted"/>.</summary>
    public IEnumerable<Batch> ForEpoch(int epoch) => ForEpoch(epoch, 0);

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/> from batch <paramref name="firstBatch"/> on: exactly the batches a full
    /// enumeration gives from there (same order, same augmentation), for a run resumed part-way through an epoch.
    /// </summary>
    internal IEnumerable<Batch> ForEpoch(int epoch, int firstBatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (firstBatch < 0 || firstBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(firstBatch), firstBatch, $"An epoch of {BatchesPerEpoch} batches cannot resume at batch {firstBatch}.");
        return new EpochEnumerable(this, epoch, firstBatch);
    }

    /// <summary>Stops any running epoch and waits for its background task.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _active?.Dispose();
    }

    private EpochEnumerator Start(int epoch, int firstBatch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_active is not null)
            throw new InvalidOperationException("Another epoch of this DataLoader is still being enumerated; finish or dispose it first (batches share buffers).");
        FillOrder(epoch);
        var e = new EpochEnumerator(this, epoch, firstBatch);
        _active = e;
        e.StartProducer();
        return e;
    }

    private void FillOrder(int epoch)
    {
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (!Shuffle) return;
        var rng = new SplitMix64(SplitMix64.Seed((ulong)(uint)_seed, (ulong)epoch, 0x5348554646UL));
        for (int i = _order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (_order[i], _order[j]) = (_order[j], _order[i]);
        }
    }

    /// <summary>Fills slot (index % BufferCount) with batch <paramref name="index"/> of <paramref name="epoch"/>. Runs on the producer.</summary>
    private Batch Fill(int epoch, int index)
    {
        int start = index * BatchSize;
        int count = Math.Min(BatchSize, _order.Length - start);
        int slot = index % BufferCount;
        // A slot holds no more samples than the data set has: 2 held-out images of 1024 x 1024 must not take 256 images' room.
        int capacity = Math.Min(BatchSize, Math.Max(1, _order.Length));
        var full = _slots[slot] ??= new Batch(new Tensor(capacity, _channels, _height, _width), new int[capacity]);
        // A short last batch gets its own small views over the slot's storage: once per epoch, not per batch.
        var batch = count == capacity ? full : new Batch(new Tensor([count, _channels, _height, _width], full.Images.Buffer), new int[count]);
        var images = batch.Images.Span;
        // A data set that reads a batch at once (decoding files on several threads) gets the batch's indices in one call.
        var bulk = _dataset as IBatchReadDataset;
        bulk?.CopyImages(_order.AsSpan(start, count), images[..(count * _sampleSize)]);
        for (int i = 0; i < count; i++)
        {
            int sample = _order[start + i];
            var dest = images.Slice(i * _sampleSize, _sampleSize);
            if (bulk is null) _dataset.CopyImage(sample, dest);
            batch.Labels[i] = _dataset.GetLabel(sample);
            if (Augmentation is not null)
            {
                var rng = new SplitMix64(SplitMix64.Seed((ulong)(uint)_seed, (ulong)epoch, (ulong)(start + i) + 1));
                Augmentation.Apply(dest, _scratch, _channels, _height, _width, ref rng);
            }
        }
        batch.Index = index;
        return batch;
    }

    private sealed class EpochEnumerable(DataLoader loader, int epoch, int firstBatch) : IEnumerable<Batch>
    {
        public IEnumerator<Batch> GetEnumerator() => loader.Start(epoch, firstBatch);
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>
    /// One epoch. The producer task fills batch k+1 while the consumer holds batch k; a semaphore of free buffer slots keeps it
    /// from overwriting the two batches the consumer may still read.
    /// </summary>
    private sealed class EpochEnumerator : IEnumerator<Batch>
    {
        private readonly DataLoader _loader;
        private readonly int _epoch;
        private readonly int _batchCount;
        private readonly int _firstBatch;
        // One permit per batch the producer may fill; MoveNext grants one, so the producer runs at most one batch ahead.
        private readonly SemaphoreSlim _mayFill = new(1);
        private readonly SemaphoreSlim _ready = new(0);
        private readonly Batch?[] _made = new Batch?[BufferCount];
        private Task? _producer;
        private volatile bool _stop;
        private ExceptionDispatchInfo? _error;
        private int _errorAt = int.MaxValue;
        private int _next;
        private Batch? _current;
        private bool _disposed;

        public EpochEnumerator(DataLoader loader, int epoch, int firstBatch)
        {
            _loader = loader;
            _epoch = epoch;
            _batchCount = loader.BatchesPerEpoch;
            _firstBatch = _next = firstBatch;
        }

        public Batch Current => _current ?? throw new InvalidOperationException("Call MoveNext before reading Current.");

        object IEnumerator.Current => Current;

        public void StartProducer()
        {
            if (_firstBatch >= _batchCount) return;
            _producer = Task.Factory.StartNew(Produce, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        private void Produce()
        {
            for (int k = _firstBatch; k < _batchCount; k++)
            {
                _mayFill.Wait();
                if (_stop) return;
                try
                {
                    _made[k % BufferCount] = _loader.Fill(_epoch, k);
                }
                catch (Exception ex)
                {
                    _error = ExceptionDispatchInfo.Capture(ex);
                    _errorAt = k;
                    _ready.Release();
                    return;
                }
                _ready.Release();
            }
        }

        public bool MoveNext()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_next >= _batchCount)
            {
                _current = null;
                return false;
            }
            int k = _next++;
            // Granting a permit now frees the buffer of batch k-2, which the caller has given up by calling MoveNext.
            if (k + 1 < _batchCount) _mayFill.Release();
            _ready.Wait();
            if (k == _errorAt)
            {
                _next = _batchCount;
                _error!.Throw();
            }
            _current = _made[k % BufferCount];
            return true;
        }

        public void Reset() => throw new NotSupportedException("Start a new epoch by enumerating the DataLoader again.");

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _stop = true;
            // Wake the producer if it waits for a permit; it sees _stop and exits. Otherwise it ends after the batch in hand.
            _mayFill.Release();
            try { _producer?.Wait(); }
            catch (AggregateException) { /* errors are stored and reported by MoveNext, never thrown here */ }
            _mayFill.Dispose();
            _ready.Dispose();
            _current = null;
            if (ReferenceEquals(_loader._active, this)) _loader._active = null;
        }
    }
}
