using System.Text.Json;
using Nexus.Model.Safetensors;
using static Nexus.Model.Tests.Safetensors.SafetensorsTestData;

namespace Nexus.Model.Tests.Safetensors;

public sealed class SafetensorsCheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Five 64-byte tensors; with a 128-byte limit they split 2 + 2 + 1 over three shards.</summary>
    private static (TensorSpec Spec, ReadOnlyMemory<byte> Bytes)[] FiveTensors() =>
        Enumerable.Range(0, 5)
            .Select(i => Tensor($"layers.{i}.weight", SafetensorsDtype.F32, [4, 4], seed: 100 + i))
            .ToArray();

    [Fact]
    public void ShardedCheckpointRoundTripsAcrossThreeShards()
    {
        var tensors = FiveTensors();
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        SafetensorsCheckpointWriter.Write(_dir.Path, tensors, maxShardBytes: 128, metadata);

        Assert.Equal(
            [
                "model-00001-of-00003.safetensors",
                "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors",
                "model.safetensors.index.json",
            ],
            _dir.ListFiles());

        using var checkpoint = SafetensorsCheckpoint.Open(_dir.Path);
        Assert.True(checkpoint.IsSharded);
        Assert.Equal(tensors.Select(t => t.Spec.Name), checkpoint.Names);
        Assert.Equal(320, checkpoint.TotalSize);
        Assert.Equal("320", checkpoint.Metadata["total_size"]);
        foreach (var (spec, bytes) in tensors)
        {
            Assert.Equal(spec.Shape, checkpoint.Entry(spec.Name).Shape);
            Assert.Equal(bytes.ToArray(), checkpoint.GetBytes(spec.Name).ToArray());
        }

        Assert.Equal(metadata, checkpoint.FileOf("layers.4.weight").Metadata);
        Assert.EndsWith("model-00003-of-00003.safetensors", checkpoint.FileOf("layers.4.weight").Path);
    }

    [Fact]
    public void IndexRecordsTotalSizeAndTheShardOfEveryTensor()
    {
        SafetensorsCheckpointWriter.Write(_dir.Path, FiveTensors(), maxShardBytes: 128);

        using var index = JsonDocument.Parse(File.ReadAllBytes(_dir.File(SafetensorsCheckpoint.IndexFileName)));
        Assert.Equal(320, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.RootElement.GetProperty("weight_map");
        Assert.Equal("model-00001-of-00003.safetensors", weightMap.GetProperty("layers.1.weight").GetString());
        Assert.Equal("model-00002-of-00003.safetensors", weightMap.GetProperty("layers.2.weight").GetString());
        Assert.Equal("model-00003-of-00003.safetensors", weightMap.GetProperty("layers.4.weight").GetString());
    }

    [Fact]
    public void ShardsAreOpenedOnlyWhenOneOfTheirTensorsIsRead()
    {
        SafetensorsCheckpointWriter.Write(_dir.Path, FiveTensors(), maxShardBytes: 128);
        File.WriteAllBytes(_dir.File("model-00003-of-00003.safetensors"), [1, 2, 3]);

        using var checkpoint = SafetensorsCheckpoint.Open(_dir.Path);
        Assert.Equal(64, checkpoint.GetBytes("layers.0.weight").Length);
        var error = Assert.Throws<SafetensorsFormatException>(() => checkpoint.Entry("layers.4.weight"));
        Assert.Contains("model-00003-of-00003.safetensors: file is 3 bytes", error.Message);
    }

    [Fact]
    public void StreamingCheckpointWriteMatchesOneShotWriteAndCopiesToNativeMemory()
    {
        var tensors = FiveTensors();
        var streamed = Path.Combine(_dir.Path, "streamed");
        using (var writer = SafetensorsCheckpointWriter.Create(streamed, tensors.Select(t => t.Spec).ToList(), maxShardBytes: 128))
        {
            Assert.Equal(3, writer.ShardPaths.Count);
            foreach (var (spec, bytes) in tensors)
            {
                writer.WriteTensor(spec.Name, bytes.Span[..10]);
                writer.WriteTensor(spec.Name, bytes.Span[10..]);
            }

            writer.Commit();
        }

        var oneShot = Path.Combine(_dir.Path, "oneshot");
        SafetensorsCheckpointWriter.Write(oneShot, tensors, maxShardBytes: 128);
        foreach (var file in Directory.GetFiles(oneShot).Select(Path.GetFileName))
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(oneShot, file!)), File.ReadAllBytes(Path.Combine(streamed, file!)));
        }

        using var checkpoint = SafetensorsCheckpoint.Open(Path.Combine(streamed, SafetensorsCheckpoint.IndexFileName));
        var destination = new byte[64];
        checkpoint.CopyTo("layers.3.weight", destination);
        Assert.Equal(tensors[3].Bytes.ToArray(), destination);
    }

    [Fact]
    public void EverythingInOneShardWritesAPlainFileAndRemovesAStaleIndex()
    {
        SafetensorsCheckpointWriter.Write(_dir.Path, FiveTensors(), maxShardBytes: 128);
        SafetensorsCheckpointWriter.Write(_dir.Path, FiveTensors(), maxShardBytes: 1 << 20);

        Assert.DoesNotContain(SafetensorsCheckpoint.IndexFileName, _dir.ListFiles());
        Assert.Contains(SafetensorsCheckpoint.SingleFileName, _dir.ListFiles());
        using var checkpoint = SafetensorsCheckpoint.Open(_dir.Path);
        Assert.False(checkpoint.IsSharded);
        Assert.Equal(320, checkpoint.TotalSize);
        Assert.Equal(5, checkpoint.Names.Count());
    }

    [Fact]
    public void OpensASafetensorsFileByPath()
    {
        var path = _dir.File("custom.safetensors");
        SafetensorsWriter.Write(path, [Tensor("x", SafetensorsDtype.I64, [2], seed: 1)], new Dictionary<string, string> { ["a"] = "b" });

        using var checkpoint = SafetensorsCheckpoint.Open(path);
        Assert.Equal(["x"], checkpoint.Names);
        Assert.Equal("b", checkpoint.Metadata["a"]);
        Assert.Equal(16, checkpoint.GetBytes("x").Length);
    }

    [Fact]
    public void ATensorLargerThanTheLimitGetsAShardOfItsOwn()
    {
        var plan = SafetensorsCheckpointWriter.PlanShards(
            [
                new("small.0", SafetensorsDtype.U8, [10]),
                new("huge", SafetensorsDtype.U8, [1000]),
                new("small.1", SafetensorsDtype.U8, [10]),
                new("small.2", SafetensorsDtype.U8, [10]),
            ],
            maxShardBytes: 100);

        Assert.Equal([["small.0"], ["huge"], ["small.1", "small.2"]], plan.Select(s => s.Select(t => t.Name).ToArray()));
    }

    [Fact]
    public void CheckpointWriterRejectsGoingBackToAnEarlierShard()
    {
        var tensors = FiveTensors();
        using (var writer = SafetensorsCheckpointWriter.Create(_dir.Path, tensors.Select(t => t.Spec).ToList(), maxShardBytes: 128))
        {
            writer.WriteTensor(tensors[0].Spec.Name, tensors[0].Bytes.Span);
            writer.WriteTensor(tensors[1].Spec.Name, tensors[1].Bytes.Span);
            writer.WriteTensor(tensors[2].Spec.Name, tensors[2].Bytes.Span);

            var error = Assert.Throws<InvalidOperationException>(() => writer.WriteTensor(tensors[1].Spec.Name, default));
            Assert.Contains("earlier shard", error.Message);
            var incomplete = Assert.Throws<InvalidOperationException>(writer.Commit);
            Assert.Contains("tensor 'layers.3.weight' is incomplete at commit", incomplete.Message);
        }

        Assert.Empty(_dir.ListFiles());
    }

    [Fact]
    public void DisposeWithoutCommitLeavesNoShardsOrIndex()
    {
        var tensors = FiveTensors();
        using (var writer = SafetensorsCheckpointWriter.Create(_dir.Path, tensors.Select(t => t.Spec).ToList(), maxShardBytes: 128))
        {
            writer.WriteTensor(tensors[0].Spec.Name, tensors[0].Bytes.Span);
        }

        Assert.Empty(_dir.ListFiles());
    }

    [Fact]
    public void IndexNamingAMissingShardFailsOnOpen()
    {
        SafetensorsCheckpointWriter.Write(_dir.Path, FiveTensors(), maxShardBytes: 128);
        File.Delete(_dir.File("model-00002-of-00003.safetensors"));

        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(_dir.Path));
        Assert.Contains("index names shard 'model-00002-of-00003.safetensors', which does not exist", error.Message);
        Assert.Contains(SafetensorsCheckpoint.IndexFileName, error.Message);
    }

    [Theory]
    [InlineData("../outside.safetensors")]
    [InlineData("sub/../../outside.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("..")]
    [InlineData("")]
    public void IndexWithShardPathOutsideTheDirectoryFails(string shard)
    {
        SafetensorsWriter.Write(_dir.File("model.safetensors"), [Tensor("a", SafetensorsDtype.U8, [1], seed: 1)]);
        WriteIndex(new Dictionary<string, string> { ["a"] = shard });

        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(_dir.Path));
        Assert.Contains("is not a relative path inside the checkpoint directory", error.Message);
    }

    [Fact]
    public void ShardMissingAMappedTensorFailsWhenTheShardIsOpened()
    {
        SafetensorsWriter.Write(_dir.File("shard.safetensors"), [Tensor("a", SafetensorsDtype.U8, [1], seed: 1)]);
        WriteIndex(new Dictionary<string, string> { ["a"] = "shard.safetensors", ["ghost"] = "shard.safetensors" });

        using var checkpoint = SafetensorsCheckpoint.Open(_dir.Path);
        Assert.Contains("ghost", checkpoint.Names);
        var error = Assert.Throws<SafetensorsFormatException>(() => checkpoint.GetBytes("a").Length);
        Assert.Contains("index maps tensor 'ghost' to shard", error.Message);
        Assert.Contains("but the shard does not contain it", error.Message);
    }

    [Theory]
    [InlineData("[]", "index must be a JSON object")]
    [InlineData("""{"metadata":{}}""", "index has no \"weight_map\" object")]
    [InlineData("""{"weight_map":{"a":1}}""", "weight_map entry for tensor 'a' must be a shard file name")]
    [InlineData("""{"weight_map":{"a":"x","a":"x"}}""", "duplicate tensor name 'a' in weight_map")]
    [InlineData("""{"weight_map":""", "index is not valid JSON")]
    public void MalformedIndexFailsClearly(string json, string phrase)
    {
        File.WriteAllText(_dir.File(SafetensorsCheckpoint.IndexFileName), json);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(_dir.Path));
        Assert.Contains(phrase, error.Message);
    }

    [Fact]
    public void UnknownTensorAndEmptyDirectoryFailClearly()
    {
        Assert.Contains("neither model.safetensors.index.json nor model.safetensors",
            Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(_dir.Path)).Message);

        SafetensorsCheckpointWriter.Write(_dir.Path, FiveTensors(), maxShardBytes: 128);
        using var checkpoint = SafetensorsCheckpoint.Open(_dir.Path);
        var error = Assert.Throws<KeyNotFoundException>(() => checkpoint.Entry("lm_head.weight"));
        Assert.Contains("'lm_head.weight'", error.Message);
    }

    private void WriteIndex(Dictionary<string, string> weightMap) =>
        File.WriteAllText(
            _dir.File(SafetensorsCheckpoint.IndexFileName),
            JsonSerializer.Serialize(new { metadata = new { total_size = 1 }, weight_map = weightMap }));
}
