using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Nexus.Model.Safetensors;
using static Nexus.Model.Tests.Safetensors.SafetensorsTestData;

namespace Nexus.Model.Tests.Safetensors;

public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<SafetensorsDtype> AllDtypes() => new(Enum.GetValues<SafetensorsDtype>());

    [Theory]
    [MemberData(nameof(AllDtypes))]
    public void RoundTripsEveryDtypeIncludingScalarAndEmptyTensors(SafetensorsDtype dtype)
    {
        var path = _dir.File("model.safetensors");
        var tensors = new[]
        {
            Tensor("matrix", dtype, [2, 3], seed: 1),
            Tensor("scalar", dtype, [], seed: 2),
            Tensor("empty", dtype, [0, 4], seed: 3),
            Tensor("vector", dtype, [5], seed: 4),
        };
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"quoted\"" };

        SafetensorsWriter.Write(path, tensors, metadata);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(["matrix", "scalar", "empty", "vector"], file.Tensors.Select(t => t.Name));
        foreach (var (spec, bytes) in tensors)
        {
            var entry = file[spec.Name];
            Assert.Equal(dtype, entry.Dtype);
            Assert.Equal(spec.Shape, entry.Shape);
            Assert.Equal(spec.ElementCount, entry.ElementCount);
            Assert.Equal(bytes.Length, entry.ByteLength);
            Assert.Equal(bytes.ToArray(), file.GetBytes(spec.Name).ToArray());
        }

        Assert.Equal(1, file["scalar"].ElementCount);
        Assert.Equal(0, file["empty"].ByteLength);
    }

    [Fact]
    public void CopyToNativeMemoryAndSpanMatchesGetBytes()
    {
        var path = _dir.File("copy.safetensors");
        var tensor = Tensor("w", SafetensorsDtype.F32, [16, 8], seed: 7);
        SafetensorsWriter.Write(path, [tensor]);
        using var file = SafetensorsFile.Open(path);

        var native = Marshal.AllocHGlobal(tensor.Bytes.Length);
        try
        {
            file.CopyTo("w", native, tensor.Bytes.Length);
            var copied = new byte[tensor.Bytes.Length];
            Marshal.Copy(native, copied, 0, copied.Length);
            Assert.Equal(tensor.Bytes.ToArray(), copied);
        }
        finally
        {
            Marshal.FreeHGlobal(native);
        }

        var span = new byte[tensor.Bytes.Length + 3];
        file.CopyTo("w", span);
        Assert.Equal(tensor.Bytes.ToArray(), span[..tensor.Bytes.Length]);

        var tooSmall = Assert.Throws<ArgumentException>(() => file.CopyTo("w", new byte[10]));
        Assert.Contains("destination holds only 10", tooSmall.Message);
    }

    [Fact]
    public void ChunkedStreamingWriteEqualsSingleShotWrite()
    {
        var tensors = new[]
        {
            Tensor("a", SafetensorsDtype.BF16, [33, 7], seed: 11),
            Tensor("b", SafetensorsDtype.I64, [9], seed: 12),
            Tensor("c", SafetensorsDtype.U8, [1000], seed: 13),
        };
        var single = _dir.File("single.safetensors");
        var chunked = _dir.File("chunked.safetensors");
        var metadata = new Dictionary<string, string> { ["k"] = "v" };
        SafetensorsWriter.Write(single, tensors, metadata);

        using (var writer = SafetensorsWriter.Create(chunked, tensors.Select(t => t.Spec).ToList(), metadata))
        {
            foreach (var (spec, bytes) in tensors)
            {
                for (var offset = 0; offset < bytes.Length; offset += 37)
                {
                    writer.WriteTensor(spec.Name, bytes.Span.Slice(offset, Math.Min(37, bytes.Length - offset)));
                }
            }

            writer.Commit();
        }

        Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(chunked));
    }

    [Fact]
    public void MatchesTheReferenceImplementationByteForByte()
    {
        // safetensors.torch.save_file({"test": torch.zeros(2, 2)}) writes exactly this.
        var path = _dir.File("reference.safetensors");
        SafetensorsWriter.Write(path, [(new TensorSpec("test", SafetensorsDtype.F32, [2, 2]), new byte[16])]);

        const string json = """{"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""";
        var header = Encoding.UTF8.GetBytes(json.PadRight(64));
        var expected = new byte[8 + header.Length + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(expected, (ulong)header.Length);
        header.CopyTo(expected, 8);
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void DisposeWithoutCommitLeavesNoFile()
    {
        var path = _dir.File("model.safetensors");
        var tensor = Tensor("a", SafetensorsDtype.F32, [4], seed: 1);
        using (var writer = SafetensorsWriter.Create(path, [tensor.Spec]))
        {
            writer.WriteTensor("a", tensor.Bytes.Span[..8]);
            Assert.True(File.Exists(writer.TempPath));
            Assert.StartsWith(path + ".tmp-", writer.TempPath);
        }

        Assert.Empty(_dir.ListFiles());
    }

    [Fact]
    public void CommitRenamesOverAnExistingFileAndLeavesNoTemporaryFile()
    {
        var path = _dir.File("model.safetensors");
        File.WriteAllText(path, "old content");
        SafetensorsWriter.Write(path, [Tensor("a", SafetensorsDtype.I32, [3], seed: 5)]);

        Assert.Equal(["model.safetensors"], _dir.ListFiles());
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(12, file["a"].ByteLength);
    }

    [Fact]
    public void WriterEnforcesLayoutOrderAndByteCounts()
    {
        var path = _dir.File("model.safetensors");
        var layout = new[]
        {
            new TensorSpec("a", SafetensorsDtype.F32, [2]),
            new TensorSpec("b", SafetensorsDtype.F32, [2]),
        };
        using var writer = SafetensorsWriter.Create(path, layout);

        var skipped = Assert.Throws<InvalidOperationException>(() => writer.WriteTensor("b", new byte[8]));
        Assert.Contains("tensor 'a' is incomplete", skipped.Message);

        writer.WriteTensor("a", new byte[4]);
        var overrun = Assert.Throws<ArgumentException>(() => writer.WriteTensor("a", new byte[5]));
        Assert.Contains("would overrun", overrun.Message);

        writer.WriteTensor("a", new byte[4]);
        writer.WriteTensor("b", new byte[2]);
        var backwards = Assert.Throws<InvalidOperationException>(() => writer.WriteTensor("a", new byte[1]));
        Assert.Contains("already written", backwards.Message);

        var unknown = Assert.Throws<ArgumentException>(() => writer.WriteTensor("zzz", new byte[1]));
        Assert.Contains("not in the layout", unknown.Message);

        var incomplete = Assert.Throws<InvalidOperationException>(writer.Commit);
        Assert.Contains("tensor 'b' is incomplete at commit: 2 of 8 bytes", incomplete.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void EmptyTensorsMayBeSkippedByTheWriter()
    {
        var path = _dir.File("model.safetensors");
        var layout = new[]
        {
            new TensorSpec("empty", SafetensorsDtype.F16, [0]),
            new TensorSpec("x", SafetensorsDtype.F16, [1]),
            new TensorSpec("trailing_empty", SafetensorsDtype.F16, [3, 0]),
        };
        using (var writer = SafetensorsWriter.Create(path, layout))
        {
            writer.WriteTensor("x", new byte[] { 1, 2 });
            writer.Commit();
        }

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal(new byte[] { 1, 2 }, file.GetBytes("x").ToArray());
    }

    [Fact]
    public void WriterRejectsInvalidLayouts()
    {
        var path = _dir.File("model.safetensors");
        Assert.Contains("appears twice", Assert.Throws<ArgumentException>(() => SafetensorsWriter.Create(
            path, [new("a", SafetensorsDtype.U8, [1]), new("a", SafetensorsDtype.U8, [1])])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => SafetensorsWriter.Create(
            path, [new("__metadata__", SafetensorsDtype.U8, [1])])).Message);
        Assert.Contains("negative dimension", Assert.Throws<ArgumentException>(() => SafetensorsWriter.Create(
            path, [new("a", SafetensorsDtype.U8, [2, -1])])).Message);
        Assert.Contains("overflow", Assert.Throws<ArgumentException>(() => SafetensorsWriter.Create(
            path, [new("a", SafetensorsDtype.F64, [long.MaxValue / 2])])).Message);
        Assert.Empty(_dir.ListFiles());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(13)]
    public void HeaderIsSpacePaddedSoTheDataRegionIsEightAligned(int nameLength)
    {
        var path = _dir.File("model.safetensors");
        SafetensorsWriter.Write(path, [Tensor(new string('n', nameLength), SafetensorsDtype.F64, [3], seed: 9)]);

        var raw = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Assert.Equal(0, (8 + headerLength) % 8);
        var header = Encoding.UTF8.GetString(raw, 8, headerLength);
        Assert.EndsWith("}", header.TrimEnd(' '));
        Assert.DoesNotContain(header.TrimEnd(' '), c => char.IsWhiteSpace(c));

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(0, file.DataOffset % 8);
        Assert.Equal(8 + headerLength, file.DataOffset);
    }

    [Fact]
    public void TensorsAreListedInDataOffsetOrderWhateverTheHeaderOrder()
    {
        var path = _dir.File("reordered.safetensors");
        MalformedFiles.WriteRaw(path, MalformedFiles.Header(
            """{"second":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},"first":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""",
            dataBytes: 6));

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["first", "second"], file.Tensors.Select(t => t.Name));
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void AcceptsAnEmptyCheckpointAndWhitespacePaddedHeaders()
    {
        var path = _dir.File("empty.safetensors");
        MalformedFiles.WriteRaw(path, MalformedFiles.Header("{ }\n\t\r  ", dataBytes: 0));
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Tensors);
        Assert.Equal(0, file.DataLength);
    }

    [Fact]
    public void MissingTensorErrorNamesTheTensorAndTheFile()
    {
        var path = _dir.File("model.safetensors");
        SafetensorsWriter.Write(path, [Tensor("a", SafetensorsDtype.U8, [1], seed: 1)]);
        using var file = SafetensorsFile.Open(path);

        var error = Assert.Throws<KeyNotFoundException>(() => file["missing.weight"]);
        Assert.Contains("'missing.weight'", error.Message);
        Assert.Contains(path, error.Message);
        Assert.False(file.TryGet("missing.weight", out _));
        Assert.True(file.TryGet("a", out var entry));
        Assert.Equal("a", entry.Name);
    }

    [Fact]
    public void ReadsAfterDisposeThrow()
    {
        var path = _dir.File("model.safetensors");
        SafetensorsWriter.Write(path, [Tensor("a", SafetensorsDtype.U8, [1], seed: 1)]);
        var file = SafetensorsFile.Open(path);
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.GetBytes("a").ToArray());
    }

    [Fact]
    public void TensorsOverTwoGibibytesNeedCopyToAndOpenWithoutReadingData()
    {
        // A sparse file: opening must only touch the header, so this is instant and uses no memory.
        var path = _dir.File("huge.safetensors");
        const long length = (1L << 31) + 8;
        var raw = MalformedFiles.Header($$$"""{"big":{"dtype":"U8","shape":[{{{length}}}],"data_offsets":[0,{{{length}}}]}}""", 0);
        MalformedFiles.WriteRaw(path, raw, totalLength: raw.Length + length);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(length, file["big"].ByteLength);
        var error = Assert.Throws<InvalidOperationException>(() => file.GetBytes("big").Length);
        Assert.Contains("use CopyTo", error.Message);
    }
}
