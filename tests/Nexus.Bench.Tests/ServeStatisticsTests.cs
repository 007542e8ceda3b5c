namespace Nexus.Bench.Tests;

public sealed class ServeStatisticsTests
{
    [Fact]
    public void Percentile_is_the_nearest_rank_of_the_sorted_values()
    {
        double[] values = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10];
        Assert.Equal(5, ServeStatistics.Percentile(values, 50));
        Assert.Equal(10, ServeStatistics.Percentile(values, 99));
        Assert.Equal(9, ServeStatistics.Percentile(values, 90));
        Assert.Equal(1, ServeStatistics.Percentile(values, 1));
        Assert.Equal(10, ServeStatistics.Percentile(values, 100));
        Assert.Equal(42, ServeStatistics.Percentile([42.0], 99));
        Assert.True(double.IsNaN(ServeStatistics.Percentile([], 50)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ServeStatistics.Percentile(values, 0));
    }

    [Fact]
    public void P99_of_a_hundred_values_is_the_99th_not_the_largest()
    {
        var values = Enumerable.Range(1, 100).Select(i => (double)i).Reverse().ToList();
        Assert.Equal(99, ServeStatistics.Percentile(values, 99));
        Assert.Equal(50, ServeStatistics.Percentile(values, 50));
    }

    [Fact]
    public void Latencies_are_bucketed_by_position_and_empty_buckets_left_out()
    {
        (int, double)[] samples = [(17, 1.0), (127, 2.0), (128, 3.0), (255, 4.0), (300, 5.0), (600, 6.0), (601, 8.0)];
        var buckets = ServeStatistics.BucketByPosition(samples, 128);

        Assert.Equal([(0, 127), (128, 255), (256, 383), (512, 639)], buckets.Select(b => (b.From, b.To)));
        Assert.Equal([1.0, 2.0], buckets[0].Latencies);
        Assert.Equal([3.0, 4.0], buckets[1].Latencies);
        Assert.Equal([6.0, 8.0], buckets[3].Latencies);
        Assert.Equal(6.0, buckets[3].Median);
        Assert.Throws<ArgumentOutOfRangeException>(() => ServeStatistics.BucketByPosition(samples, 0));
    }

    [Fact]
    public void Sse_lines_parse_into_chunks_done_errors_and_nothing()
    {
        var chunk = SseLine.Parse("""data: {"id":"cmpl-2","object":"text_completion","created":1,"model":"m","choices":[{"text":"Hel","index":0,"logprobs":null,"finish_reason":null}]}""");
        Assert.Equal(new SseLine.Chunk("Hel", null), chunk);

        var last = SseLine.Parse("""data: {"id":"cmpl-2","choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}]}""");
        Assert.Equal(new SseLine.Chunk("", "length"), last);

        Assert.IsType<SseLine.Done>(SseLine.Parse("data: [DONE]"));
        Assert.IsType<SseLine.Done>(SseLine.Parse("data:[DONE]"));
        Assert.IsType<SseLine.Other>(SseLine.Parse(""));
        Assert.IsType<SseLine.Other>(SseLine.Parse(": keep-alive"));

        var error = Assert.IsType<SseLine.Error>(SseLine.Parse("""data: {"error":{"message":"The completion ran past 300 s.","type":"server_error","param":null,"code":"timeout"}}"""));
        Assert.Equal("The completion ran past 300 s.", error.Message);
        Assert.IsType<SseLine.Error>(SseLine.Parse("data: {\"choices\":[{\"te"));
        Assert.IsType<SseLine.Error>(SseLine.Parse("""data: {"choices":[]}"""));
        Assert.IsType<SseLine.Error>(SseLine.Parse("""data: {"choices":[{"finish_reason":null}]}"""));
        Assert.IsType<SseLine.Error>(SseLine.Parse("data: [1,2]"));
    }

    [Fact]
    public void Prometheus_samples_are_summed_by_name_and_label()
    {
        const string exposition = """
            # HELP nexus_serving_requests_total Completions requests answered, by HTTP status.
            # TYPE nexus_serving_requests_total counter
            nexus_serving_requests_total{status="200"} 57
            nexus_serving_requests_total{status="429"} 3
            nexus_serving_completion_tokens_total 7296
            nexus_serving_completion_tokens_total_extra 1
            nexus_serving_inter_token_latency_seconds_count 7239
            nexus_serving_inter_token_latency_seconds_bucket{le="0.001"} 0
            nexus_serving_routed_tokens_total{layer="0",expert="1"} 1.5e3
            """;
        Assert.Equal(60, ServeStatistics.SumSamples(exposition, "nexus_serving_requests_total"));
        Assert.Equal(57, ServeStatistics.SumSamples(exposition, "nexus_serving_requests_total", "status=200"));
        Assert.Equal(7296, ServeStatistics.SumSamples(exposition, "nexus_serving_completion_tokens_total"));
        Assert.Equal(7239, ServeStatistics.SumSamples(exposition, "nexus_serving_inter_token_latency_seconds_count"));
        Assert.Equal(1500, ServeStatistics.SumSamples(exposition, "nexus_serving_routed_tokens_total", "expert=1"));
        Assert.Equal(0, ServeStatistics.SumSamples(exposition, "nexus_serving_prompt_tokens_total"));
        Assert.Equal(["200", "429"], ServeStatistics.LabelValues(exposition, "nexus_serving_requests_total", "status"));
    }

    [Fact]
    public void The_prompt_is_one_token_per_byte_after_bos()
    {
        foreach (var tokens in new[] { 2, 16, 64, 300 })
        {
            var prompt = ServeLoad.Prompt(tokens);
            Assert.Equal(tokens, new Nexus.Model.Tokenization.ByteTokenizer().Encode(prompt, addBos: true).Length);
            Assert.All(prompt, c => Assert.InRange(c, ' ', '~'));
        }
    }
}
