using System.Text;
using Nexus.Serving.Completions;

namespace Nexus.Serving.Tests.Completions;

public class CompletionRequestsFuzzTests
{
    private const string Valid = """
        {"model":"nexus-tiny","prompt":["Once upon a time"],"max_tokens":32,"temperature":0.7,"top_p":0.95,
         "stop":["\n","END"],"seed":42,"n":1,"stream":true,"user":"u","logprobs":null,"echo":{"a":[1,2,{"b":"c"}]}}
        """;

    // JSON's own characters, so that random strings get past the first byte more often than pure noise would.
    private static readonly byte[] Alphabet = Encoding.UTF8.GetBytes("{}[]:,\"\\ \n0123456789.-+eE truefalsnl\"prompt\"max_tokens\"stop\"éu€");

    [Fact]
    public void Random_byte_strings_never_throw()
    {
        var random = new Random(8);
        var refused = 0;
        for (var i = 0; i < 1_000; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            if (i % 2 == 0)
                random.NextBytes(bytes);
            else
                for (var j = 0; j < bytes.Length; j++)
                    bytes[j] = Alphabet[random.Next(Alphabet.Length)];

            var result = Parse(bytes);
            if (!result.IsValid)
                refused++;
        }
        // Noise is essentially never a valid request.
        Assert.True(refused >= 990, $"{refused} of 1000 refused");
    }

    [Fact]
    public void Every_truncation_of_a_valid_request_is_refused_without_throwing()
    {
        var bytes = Encoding.UTF8.GetBytes(Valid);
        Assert.True(Parse(bytes).IsValid);

        for (var length = 0; length < bytes.Length; length++)
        {
            var result = Parse(bytes.AsSpan(0, length).ToArray());
            Assert.False(result.IsValid, $"a truncation to {length} bytes was accepted");
        }
    }

    [Fact]
    public void Mutated_valid_requests_never_throw()
    {
        var random = new Random(80);
        var original = Encoding.UTF8.GetBytes(Valid);
        for (var i = 0; i < 1_000; i++)
        {
            var bytes = (byte[])original.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            Parse(bytes);
        }
    }

    private static CompletionParseResult Parse(byte[] bytes)
    {
        var result = CompletionRequests.Parse(bytes, ServingLimits.Default);
        Assert.True(result.IsValid ^ result.Error is not null);
        if (result.Error is { } error)
        {
            Assert.Contains(error.StatusCode, new[] { 400, 413 });
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
        return result;
    }
}
