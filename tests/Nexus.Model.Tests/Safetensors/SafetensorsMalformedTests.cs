using Nexus.Model.Safetensors;
using static Nexus.Model.Tests.Safetensors.MalformedFiles;

namespace Nexus.Model.Tests.Safetensors;

public sealed class SafetensorsMalformedTests : IDisposable
{
    private const string F32x4 = "\"dtype\":\"F32\",\"shape\":[4]";

    private static readonly Dictionary<string, (Func<byte[]> Build, long? SparseLength, string Phrase)> Cases = new()
    {
        ["empty file"] = (() => [], null, "file is 0 bytes, too small for the 8-byte header length"),
        ["7-byte file"] = (() => new byte[7], null, "file is 7 bytes, too small"),
        ["header length beyond file"] = (() => Prefix(100, 10), null, "header length 100 exceeds the file size 18"),
        ["header length 2^63-1"] = (() => Prefix(long.MaxValue, 16), null, "header length 9223372036854775807 exceeds the file size 24 (the file is truncated or not safetensors)"),
        ["header length 2^64-1"] = (() => Prefix(ulong.MaxValue, 16), null, "header length 18446744073709551615 exceeds the file size"),
        ["header length 200 MiB"] = (() => Prefix(200UL << 20, 0), (200L << 20) + 64, "header length 209715200 exceeds the limit of 104857600 bytes"),
        ["zero header length"] = (() => Prefix(0, 0), null, "header does not start with '{'"),
        ["truncated data region"] = (() => Header($$"""{{{Entry("a", "F32", "[4]", 0, 16)}}}""", 8), null, "ends at byte 16, beyond the data region of 8 bytes"),
        ["header not JSON"] = (() => Header("{not json}", 0), null, "header is not valid JSON"),
        ["header truncated mid-object"] = (() => Header("""{"a":{"dtype":""", 0), null, "header is not valid JSON"),
        ["header JSON array"] = (() => Header("[1, 2]", 0), null, "header does not start with '{'"),
        ["header with BOM"] = (() => Header("\uFEFF{}", 0), null, "header does not start with '{'"),
        ["trailing garbage in header"] = (() => Header("{}  x     ", 0), null, "non-whitespace byte 0x78 after the JSON object"),
        ["NUL padding in header"] = (() => Header("{}\0\0\0\0\0\0", 0), null, "non-whitespace byte 0x00 after the JSON object"),
        ["second JSON value in header"] = (() => Header("{}{}", 0), null, "non-whitespace byte 0x7B after the JSON object"),
        ["invalid UTF-8"] = (() => Header([(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'], 0), null, "header is not valid UTF-8"),
        ["lone surrogate escape"] = (() => Header("""{"\ud800":{}}""", 0), null, "invalid JSON string"),
        ["duplicate tensor name"] = (() => Header($$"""{{{Entry("a", "U8", "[1]", 0, 1)}},{{Entry("a", "U8", "[1]", 1, 2)}}}""", 2), null, "duplicate tensor name 'a'"),
        ["duplicate __metadata__"] = (() => Header("""{"__metadata__":{},"__metadata__":{}}""", 0), null, "duplicate key __metadata__"),
        ["entry not an object"] = (() => Header("""{"a":[1]}""", 0), null, "entry for tensor 'a' must be a JSON object, got StartArray"),
        ["unknown dtype"] = (() => Header($$"""{{{Entry("a", "F8", "[1]", 0, 1)}}}""", 1), null, "tensor 'a' has unknown dtype 'F8'"),
        ["lower-case dtype"] = (() => Header($$"""{{{Entry("a", "f32", "[1]", 0, 4)}}}""", 4), null, "unknown dtype 'f32'"),
        ["dtype as number"] = (() => Header("""{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}""", 4), null, "dtype of tensor 'a' must be a string, got Number"),
        ["negative dimension"] = (() => Header($$"""{{{Entry("a", "F32", "[2,-1]", 0, 8)}}}""", 8), null, "shape of tensor 'a' has negative value -1"),
        ["fractional dimension"] = (() => Header($$"""{{{Entry("a", "F32", "[1.5]", 0, 4)}}}""", 4), null, "shape of tensor 'a' has value '1.5' that is not a non-negative 64-bit integer"),
        ["dimension beyond 64 bits"] = (() => Header($$"""{{{Entry("a", "U8", "[99999999999999999999]", 0, 4)}}}""", 4), null, "value '99999999999999999999' that is not a non-negative 64-bit integer"),
        ["dimension as string"] = (() => Header($$"""{{{Entry("a", "U8", "[\"4\"]", 0, 4)}}}""", 4), null, "shape of tensor 'a' must contain only integers, got String"),
        ["shape not array"] = (() => Header($$"""{{{Entry("a", "U8", "4", 0, 4)}}}""", 4), null, "shape of tensor 'a' must be an array of integers, got Number"),
        ["data_offsets with 1 element"] = (() => Header("{\"a\":{" + F32x4 + ",\"data_offsets\":[16]}}", 16), null, "data_offsets of tensor 'a' must have exactly 2 entries, got 1"),
        ["data_offsets with 3 elements"] = (() => Header("{\"a\":{" + F32x4 + ",\"data_offsets\":[0,16,16]}}", 16), null, "must have exactly 2 entries, got 3"),
        ["negative data offset"] = (() => Header("{\"a\":{" + F32x4 + ",\"data_offsets\":[-16,0]}}", 16), null, "data_offsets of tensor 'a' has negative value -16"),
        ["begin after end"] = (() => Header($$"""{{{Entry("a", "U8", "[0]", 8, 4)}}}""", 8), null, "data_offsets begin 8 greater than end 4"),
        ["end beyond data region"] = (() => Header($$"""{{{Entry("a", "U8", "[4]", 0, 4)}},{{Entry("b", "U8", "[4]", 4, 8)}}}""", 6), null, "tensor 'b' ends at byte 8, beyond the data region of 6 bytes"),
        ["overlapping tensors"] = (() => Header($$"""{{{Entry("a", "U8", "[8]", 0, 8)}},{{Entry("b", "U8", "[8]", 4, 12)}}}""", 12), null, "tensor 'b' at bytes [4, 12) overlaps tensor 'a' at bytes [0, 8)"),
        ["gap between tensors"] = (() => Header($$"""{{{Entry("a", "U8", "[4]", 0, 4)}},{{Entry("b", "U8", "[4]", 8, 12)}}}""", 12), null, "gap of 4 bytes in the data region before tensor 'b'"),
        ["gap at start"] = (() => Header($$"""{{{Entry("a", "U8", "[4]", 2, 6)}}}""", 6), null, "gap of 2 bytes in the data region before tensor 'a' at byte 2"),
        ["trailing data bytes"] = (() => Header($$"""{{{Entry("a", "U8", "[4]", 0, 4)}}}""", 9), null, "data region has 5 trailing bytes after the last tensor"),
        ["data without tensors"] = (() => Header("{}", 3), null, "data region has 3 trailing bytes"),
        ["byte length not dtype size times elements"] = (() => Header($$"""{{{Entry("a", "F32", "[2,2]", 0, 12)}}}""", 12), null, "tensor 'a' spans 12 bytes but dtype F32 with shape [2, 2] needs 16 bytes"),
        ["shape product overflow"] = (() => Header($$"""{{{Entry("a", "F32", "[4294967296,4294967296]", 0, 0)}}}""", 0), null, "shape [4294967296, 4294967296] of tensor 'a' overflows a 64-bit byte count"),
        ["byte count overflow"] = (() => Header($$"""{{{Entry("a", "F64", "[2305843009213693952]", 0, 0)}}}""", 0), null, "overflows a 64-bit byte count"),
        ["__metadata__ non-string value"] = (() => Header("""{"__metadata__":{"k":1}}""", 0), null, "__metadata__ value for key 'k' must be a string, got Number"),
        ["__metadata__ not an object"] = (() => Header("""{"__metadata__":"pt"}""", 0), null, "__metadata__ must be a JSON object of strings, got String"),
        ["duplicate __metadata__ key"] = (() => Header("""{"__metadata__":{"k":"a","k":"b"}}""", 0), null, "duplicate key 'k' in __metadata__"),
        ["missing dtype"] = (() => Header("""{"a":{"shape":[1],"data_offsets":[0,1]}}""", 1), null, "tensor 'a' is missing field 'dtype'"),
        ["missing shape"] = (() => Header("""{"a":{"dtype":"U8","data_offsets":[0,1]}}""", 1), null, "tensor 'a' is missing field 'shape'"),
        ["missing data_offsets"] = (() => Header("""{"a":{"dtype":"U8","shape":[1]}}""", 1), null, "tensor 'a' is missing field 'data_offsets'"),
        ["extra field in entry"] = (() => Header("""{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":0}}""", 1), null, "tensor 'a' has unknown field 'extra'"),
        ["duplicate field in entry"] = (() => Header("""{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1), null, "tensor 'a' has duplicate field 'dtype'"),
        ["deeply nested metadata"] = (() => Header("{\"__metadata__\":{\"k\":" + new string('[', 100_000) + new string(']', 100_000) + "}}", 0), null, "__metadata__ value for key 'k' must be a string, got StartArray"),
        ["deeply nested header"] = (() => Header("{\"a\":" + new string('[', 100_000) + new string(']', 100_000) + "}", 0), null, "entry for tensor 'a' must be a JSON object"),
    };

    private readonly TempDirectory _dir = new();

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    public void Dispose() => _dir.Dispose();

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void RejectsMalformedFileWithSpecificMessage(string caseName)
    {
        var (build, sparseLength, phrase) = Cases[caseName];
        var path = _dir.File("model.safetensors");
        WriteRaw(path, build(), sparseLength);

        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Contains(phrase, error.Message);
        Assert.StartsWith(path + ": ", error.Message);
    }

    [Fact]
    public void RandomCorruptionNeverEscapesAsAnotherException()
    {
        var valid = _dir.File("valid.safetensors");
        SafetensorsWriter.Write(valid,
        [
            SafetensorsTestData.Tensor("layer.0.weight", SafetensorsDtype.BF16, [4, 3], seed: 1),
            SafetensorsTestData.Tensor("layer.0.bias", SafetensorsDtype.F32, [3], seed: 2),
            SafetensorsTestData.Tensor("step", SafetensorsDtype.I64, [], seed: 3),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        var original = File.ReadAllBytes(valid);
        var random = new Random(1234);
        var path = _dir.File("fuzz.safetensors");

        for (var iteration = 0; iteration < 1500; iteration++)
        {
            var bytes = Mutate(original, random);
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = SafetensorsFile.Open(path);
                foreach (var tensor in file.Tensors)
                {
                    Assert.Equal(tensor.ByteLength, file.GetBytes(tensor.Name).Length);
                }
            }
            catch (SafetensorsFormatException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"iteration {iteration}: {ex.GetType().Name}: {ex.Message}\n{Convert.ToHexString(bytes)}");
            }
        }
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        switch (random.Next(4))
        {
            case 0:
                return bytes[..random.Next(bytes.Length)];
            case 1:
                for (var i = random.Next(1, 4); i > 0; i--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                return bytes;
            case 2:
                // Aim at the JSON, where a flipped digit or quote changes meaning rather than tensor data.
                var headerLength = Math.Min((int)BitConverter.ToUInt64(bytes), bytes.Length - 8);
                var position = 8 + random.Next(headerLength);
                bytes[position] = (byte)"0123456789{}[]\",:-. e"[random.Next(21)];
                return bytes;
            default:
                var prefix = BitConverter.GetBytes(random.NextInt64() >> random.Next(64));
                prefix.CopyTo(bytes, 0);
                return bytes;
        }
    }

    [Fact]
    public void ErrorMessagesQuoteHugeNamesWithoutFloodingTheMessage()
    {
        var path = _dir.File("model.safetensors");
        var name = new string('x', 10_000);
        WriteRaw(path, Header($$"""{{{Entry(name, "F8", "[1]", 0, 1)}}}""", 1));

        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));
        Assert.Contains("unknown dtype", error.Message);
        Assert.Contains("(10000 chars)", error.Message);
        Assert.True(error.Message.Length < 1000);
    }
}
