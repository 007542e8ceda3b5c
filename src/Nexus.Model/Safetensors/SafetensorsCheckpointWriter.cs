namespace Nexus.Model.Safetensors;

/// <summary>
/// Streams a checkpoint into a directory, split into shards of at most maxShardBytes of tensor data (a single
/// larger tensor gets a shard of its own). When everything fits one shard the result is a plain model.safetensors;
/// otherwise model-0000i-of-0000n.safetensors plus model.safetensors.index.json. Shards are committed before the
/// index, so a reader that finds the new index also finds every shard it names.
/// </summary>
public sealed class SafetensorsCheckpointWriter : IDisposable
{
    private readonly SafetensorsWriter[] _shards;
    private readonly Dictionary<string, int> _shardOfTensor;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _weightMap;
    private int _currentShard;
    private bool _committed;

    private SafetensorsCheckpointWriter(
        string directory, SafetensorsWriter[] shards, Dictionary<string, int> shardOfTensor,
        IReadOnlyList<KeyValuePair<string, string>> weightMap, long totalSize)
    {
        Directory = directory;
        _shards = shards;
        _shardOfTensor = shardOfTensor;
        _weightMap = weightMap;
        TotalSize = totalSize;
    }

    public string Directory { get; }

    /// <summary>Final paths of the shard files, in order.</summary>
    public IReadOnlyList<string> ShardPaths => _shards.Select(s => s.Path).ToArray();

    /// <summary>Sum of all tensor byte lengths, as recorded in the index.</summary>
    public long TotalSize { get; }

    public bool IsSharded => _shards.Length > 1;

    /// <param name="metadata">Stored as __metadata__ in every shard.</param>
    public static SafetensorsCheckpointWriter Create(
        string directory, IReadOnlyList<TensorSpec> layout, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var plan = PlanShards(layout, maxShardBytes);
        System.IO.Directory.CreateDirectory(directory);
        var writers = new List<SafetensorsWriter>(plan.Count);
        var shardOfTensor = new Dictionary<string, int>(StringComparer.Ordinal);
        var weightMap = new List<KeyValuePair<string, string>>();
        try
        {
            for (var i = 0; i < plan.Count; i++)
            {
                var fileName = plan.Count == 1
                    ? SafetensorsCheckpoint.SingleFileName
                    : $"model-{i + 1:D5}-of-{plan.Count:D5}.safetensors";
                var writer = SafetensorsWriter.Create(Path.Combine(directory, fileName), plan[i], metadata);
                writers.Add(writer);
                foreach (var spec in plan[i])
                {
                    shardOfTensor.Add(spec.Name, i);
                    weightMap.Add(new(spec.Name, fileName));
                }
            }
        }
        catch
        {
            writers.ForEach(w => w.Dispose());
            throw;
        }

        var totalSize = plan.Sum(shard => shard.Sum(spec => spec.ByteLength));
        return new SafetensorsCheckpointWriter(directory, writers.ToArray(), shardOfTensor, weightMap, totalSize);
    }

    /// <summary>Writes a whole checkpoint in one call.</summary>
    public static void Write(
        string directory, IEnumerable<(TensorSpec Spec, ReadOnlyMemory<byte> Bytes)> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        using var writer = Create(directory, list.Select(t => t.Spec).ToList(), maxShardBytes, metadata);
        foreach (var (spec, bytes) in list)
        {
            writer.WriteTensor(spec.Name, bytes.Span);
        }

        writer.Commit();
    }

    /// <summary>Greedy split in layout order: a shard closes when the next tensor would push it past the limit.</summary>
    public static IReadOnlyList<IReadOnlyList<TensorSpec>> PlanShards(IReadOnlyList<TensorSpec> layout, long maxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var shards = new List<IReadOnlyList<TensorSpec>>();
        var current = new List<TensorSpec>();
        long currentBytes = 0;
        foreach (var spec in layout)
        {
            var bytes = spec.ByteLength;
            if (current.Count > 0 && bytes > maxShardBytes - currentBytes)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }

            current.Add(spec);
            currentBytes += bytes;
        }

        shards.Add(current);
        return shards;
    }

    /// <summary>Appends bytes to a tensor; tensors must arrive in layout order, possibly in several chunks.</summary>
    public void WriteTensor(string name, ReadOnlySpan<byte> bytes)
    {
        EnsureNotCommitted();
        if (!_shardOfTensor.TryGetValue(name, out var shard))
        {
            throw new ArgumentException($"{Directory}: tensor '{name}' is not in the layout.", nameof(name));
        }

        // Each shard writer enforces order within itself; going back to an earlier shard would slip past that.
        if (shard < _currentShard)
        {
            throw new InvalidOperationException(
                $"{Directory}: tensor '{name}' belongs to an earlier shard than the one being written; layout order is fixed.");
        }

        _currentShard = shard;
        _shards[shard].WriteTensor(name, bytes);
    }

    public void Commit()
    {
        EnsureNotCommitted();

        // Check every shard first so an incomplete checkpoint leaves no shard behind under its final name.
        foreach (var shard in _shards)
        {
            shard.EnsureComplete();
        }

        foreach (var shard in _shards)
        {
            shard.Commit();
        }

        var indexPath = Path.Combine(Directory, SafetensorsCheckpoint.IndexFileName);
        if (IsSharded)
        {
            SafetensorsIndex.Write(indexPath, TotalSize, _weightMap);
        }
        else
        {
            // Readers prefer an index over model.safetensors, so a stale one would hide the file just written.
            File.Delete(indexPath);
        }

        _committed = true;
    }

    public void Dispose()
    {
        foreach (var shard in _shards)
        {
            shard.Dispose();
        }
    }

    private void EnsureNotCommitted()
    {
        if (_committed)
        {
            throw new InvalidOperationException($"{Directory}: the checkpoint is already committed.");
        }
    }
}
