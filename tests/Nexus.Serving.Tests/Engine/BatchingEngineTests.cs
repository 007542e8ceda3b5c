using Nexus.Model;
using Nexus.Model.Tokenization;
using Nexus.Serving.Completions;
using Nexus.Serving.Engine;
using static Nexus.Serving.Tests.Engine.EngineTestSupport;

namespace Nexus.Serving.Tests.Engine;

public class BatchingEngineTests
{
    private static readonly ByteTokenizer Tokenizer = new();

    [Theory]
    [InlineData(ModelKind.Dense)]
    [InlineData(ModelKind.Moe)]
    public async Task Greedy_completion_equals_the_text_generators(ModelKind kind)
    {
        using var model = Create(kind);
        var request = Request("Once upon a time", maxTokens: 20);
        var expected = Reference(model, Tokenizer, request);

        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 2 });
        var actual = await Collect(engine, request);

        Assert.Equal(expected.Text, actual.Text);
        Assert.Equal(expected.Finished, actual.Finished);
        Assert.Equal(17, actual.Finished.PromptTokens);   // 16 bytes and the BOS
    }

    [Fact]
    public async Task Max_tokens_ends_the_completion_with_length_after_exactly_that_many_tokens()
    {
        using var model = Dense();
        var request = Request("abc", maxTokens: 7);
        Assert.Equal(FinishReason.Length, Reference(model, Tokenizer, request).Finished.Reason);   // no EOS before 7 tokens

        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions());
        var actual = await Collect(engine, request);

        Assert.Equal(new GenerationFinished(FinishReason.Length, 4, 7), actual.Finished);
        Assert.Equal(0, engine.BatchSize);
    }

    [Theory]
    [InlineData(ModelKind.Dense)]
    [InlineData(ModelKind.Moe)]
    public async Task Concurrent_requests_give_the_same_greedy_texts_as_each_run_alone(ModelKind kind)
    {
        using var model = Create(kind);
        var requests = new[]
        {
            Request("a", 12), Request("The cat sat on", 5), Request("xyz 123", 20),
            Request("Nexus mixes experts.", 9), Request("q", 1), Request("hello, world", 15),
        };
        var expected = requests.Select(r => Reference(model, Tokenizer, r)).ToArray();

        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 4 });
        var recorder = new StepRecorder(engine);
        recorder.HoldAfter(1);
        var first = Collect(engine, requests[0]);
        recorder.WaitHeld();                                        // the first request is decoding alone
        var rest = requests.Skip(1).Select(r => Collect(engine, r)).ToArray();
        Assert.Equal(5, engine.QueueDepth);
        recorder.Release();
        var actual = await Task.WhenAll([first, .. rest]);

        for (var i = 0; i < requests.Length; i++)
        {
            Assert.Equal(expected[i].Text, actual[i].Text);
            Assert.Equal(expected[i].Finished, actual[i].Finished);
        }
        Assert.Equal(4, recorder.Steps.Max(step => step.Length));  // four slots, all of them in use at once
        Assert.Equal(0, engine.QueueDepth);
    }

    [Fact]
    public async Task A_request_arriving_mid_decode_joins_the_running_batch()
    {
        using var model = Dense();
        var longRequest = Request("The long one", 30);
        var shortRequest = Request("short", 3);
        Assert.Equal(FinishReason.Length, Reference(model, Tokenizer, longRequest).Finished.Reason);

        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 2 });
        var recorder = new StepRecorder(engine);
        recorder.HoldAfter(2);
        var running = Collect(engine, longRequest);
        recorder.WaitHeld();                                        // two decode steps of the long request done
        var joining = Collect(engine, shortRequest);
        recorder.Release();
        await Task.WhenAll(running, joining);

        var longSteps = recorder.StepsOf(longRequest.Prompt);
        var shortSteps = recorder.StepsOf(shortRequest.Prompt);
        Assert.Equal(29, longSteps.Count);                          // 30 tokens: one from the prefill, 29 decoded
        Assert.Equal(2, shortSteps.Count);
        Assert.Equal(2, shortSteps[0]);                             // joined right after the held step...
        Assert.All(shortSteps, step => Assert.Contains(step, longSteps));   // ...decoding alongside the long one
        Assert.True(longSteps[^1] > shortSteps[^1], "the short request left while the long one went on");
        Assert.Equal(new GenerationFinished(FinishReason.Length, 6, 3), (await joining).Finished);
    }

    [Fact]
    public async Task A_stop_string_ends_the_completion_with_stop_and_is_never_streamed()
    {
        using var model = Dense();
        var plain = Reference(model, Tokenizer, Request("Stop me", 24));
        var stop = plain.Text.Substring(6, 2);
        var cut = plain.Text.IndexOf(stop, StringComparison.Ordinal);
        var request = Request("Stop me", 24, stop: ["never appears \u0001", stop]);
        var expected = Reference(model, Tokenizer, request);
        Assert.Equal(plain.Text[..cut], expected.Text);

        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions());
        var actual = await Collect(engine, request);

        Assert.Equal(expected.Text, actual.Text);
        Assert.Equal(FinishReason.Stop, actual.Finished.Reason);
        Assert.DoesNotContain(stop, string.Concat(actual.Deltas));
        Assert.True(actual.Finished.CompletionTokens < 24);
    }

    [Fact]
    public async Task Cancelling_a_running_request_frees_its_slot_for_a_queued_one()
    {
        using var model = Dense();
        var cancelled = Request("to be cancelled", 40);
        var queued = Request("queued", 3);
        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 1 });
        var recorder = new StepRecorder(engine);
        using var client = new CancellationTokenSource();

        recorder.HoldAfter(1);
        var running = Collect(engine, cancelled, client.Token);
        recorder.WaitHeld();
        var waiting = Collect(engine, queued);
        Assert.Equal(1, engine.QueueDepth);
        client.Cancel();
        recorder.Release();

        Assert.Equal(new GenerationFinished(FinishReason.Length, 7, 3), (await waiting).Finished);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.Single(recorder.StepsOf(cancelled.Prompt));          // it left at the next iteration, 38 tokens early
        await WaitUntil(() => engine.BatchSize == 0, "the batch is empty");
    }

    [Fact]
    public async Task A_consumer_that_stops_reading_frees_its_slot()
    {
        using var model = Dense();
        var abandoned = Request("walk away", 40);
        Assert.NotEqual("", Reference(model, Tokenizer, abandoned with { MaxTokens = 1 }).Text);   // text from the prefill's token
        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 1 });
        var recorder = new StepRecorder(engine);
        recorder.HoldAfter(1);

        var reading = engine.GenerateAsync(abandoned, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await reading.MoveNextAsync());
        Assert.IsType<GenerationText>(reading.Current);
        recorder.WaitHeld();
        await reading.DisposeAsync();                               // stops reading without cancelling any token
        recorder.Release();

        var next = await Collect(engine, Request("next", 2));
        Assert.Equal(FinishReason.Length, next.Finished.Reason);
        Assert.Single(recorder.StepsOf(abandoned.Prompt));          // dropped at the next iteration, not after 40 tokens
    }

    [Fact]
    public async Task A_full_queue_refuses_with_429_and_retry_after()
    {
        using var model = Dense();
        var options = new EngineOptions { MaxBatchSize = 1, QueueCapacity = 1, RetryAfter = TimeSpan.FromSeconds(3) };
        await using var engine = new BatchingEngine(model, Tokenizer, options);
        var recorder = new StepRecorder(engine);
        recorder.HoldAfter(1);
        var running = Collect(engine, Request("running", 5));
        recorder.WaitHeld();
        var queued = Collect(engine, Request("queued", 5));
        Assert.Equal(1, engine.QueueDepth);

        var refusal = await Assert.ThrowsAsync<GenerationRefusedException>(() => Collect(engine, Request("refused", 5)));
        Assert.Equal(429, refusal.Status);
        Assert.Equal(TimeSpan.FromSeconds(3), refusal.RetryAfter);
        Assert.Contains("Retry after 3 seconds", refusal.Message);

        recorder.Release();
        Assert.Equal(FinishReason.Length, (await running).Finished.Reason);
        Assert.Equal(FinishReason.Length, (await queued).Finished.Reason);
        Assert.Equal(FinishReason.Length, (await Collect(engine, Request("room again", 2))).Finished.Reason);
    }

    [Fact]
    public async Task Prompts_beyond_the_context_are_refused_with_400_naming_the_field()
    {
        using var model = Dense();
        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { ContextTokens = 32 });
        Assert.Equal(32, engine.ContextTokens);

        var longPrompt = await Assert.ThrowsAsync<GenerationRefusedException>(() => Collect(engine, Request(new string('x', 31), 1)));
        Assert.Equal((400, "prompt"), (longPrompt.Status, longPrompt.Param));
        Assert.Contains("32 tokens", longPrompt.Message);

        var tooMany = await Assert.ThrowsAsync<GenerationRefusedException>(() => Collect(engine, Request(new string('x', 9), 23)));
        Assert.Equal((400, "max_tokens"), (tooMany.Status, tooMany.Param));
        Assert.Contains("at most 22", tooMany.Message);

        var fits = await Collect(engine, Request(new string('x', 9), 22));   // 10 + 22 = 32: exactly the context
        Assert.Equal(10, fits.Finished.PromptTokens);
    }

    [Fact]
    public async Task Seeded_sampling_is_reproducible_alone_and_in_a_batch()
    {
        using var model = Dense();
        var seeded = Request("Sample me", 16, temperature: 1.0, seed: 42);
        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 3 });

        var alone = await Collect(engine, seeded);
        var batched = await Task.WhenAll(Collect(engine, Request("company", 10, temperature: 0.7, seed: 1)), Collect(engine, seeded));
        var greedy = await Collect(engine, Request("Sample me", 16));

        Assert.Equal(alone, batched[1] with { Deltas = alone.Deltas });
        Assert.Equal(alone.Text, batched[1].Text);
        Assert.NotEqual(greedy.Text, alone.Text);                   // it really sampled
    }

    [Fact]
    public async Task Routed_tokens_count_every_token_through_every_layer_top_k_times()
    {
        using var model = Moe();
        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 2 });
        Assert.Equal(2, engine.RoutedTokens.Count);
        Assert.All(engine.RoutedTokens, layer => Assert.Equal(new long[4], layer));

        var completions = await Task.WhenAll(Collect(engine, Request("one", 6)), Collect(engine, Request("two and", 4)), Collect(engine, Request("3", 9)));

        // Every prompt token goes through the model; every completion token too except the last, which ends it
        // (EOS is sampled but never fed, so a Stop by EOS feeds all its completion tokens).
        var fed = completions.Sum(c => c.Finished.PromptTokens + c.Finished.CompletionTokens - (c.Finished.Reason == FinishReason.Length ? 1 : 0));
        Assert.All(engine.RoutedTokens, layer => Assert.Equal(fed * 2L, layer.Sum()));
        Assert.Contains(engine.RoutedTokens, layer => layer.Count(count => count > 0) > 1);
    }

    [Fact]
    public async Task A_dense_model_routes_nothing()
    {
        using var model = Dense();
        await using var engine = new BatchingEngine(model, Tokenizer, new EngineOptions());
        await Collect(engine, Request("dense", 3));
        Assert.Empty(engine.RoutedTokens);
    }

    [Fact]
    public async Task Disposing_ends_running_requests_refuses_queued_ones_and_new_ones()
    {
        using var model = Dense();
        var engine = new BatchingEngine(model, Tokenizer, new EngineOptions { MaxBatchSize = 1 });
        var recorder = new StepRecorder(engine);
        recorder.HoldAfter(1);
        var running = Collect(engine, Request("running", 30));
        recorder.WaitHeld();
        var queued = Collect(engine, Request("queued", 3));

        var disposing = engine.DisposeAsync().AsTask();
        recorder.Release();
        await disposing;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.Equal(503, (await Assert.ThrowsAsync<GenerationRefusedException>(() => queued)).Status);
        Assert.Equal(503, (await Assert.ThrowsAsync<GenerationRefusedException>(() => Collect(engine, Request("late", 3)))).Status);
        Assert.Equal(0, engine.QueueDepth);
    }

    [Fact]
    public async Task LoadAsync_loads_a_checkpoint_folder_warms_up_and_generates_like_the_text_generator()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"nexus-engine-{Guid.NewGuid():N}", "tiny-moe");
        try
        {
            using var model = Moe();
            ModelCheckpoint.Save(model, folder, TokenizerFiles.SaveByte);
            var request = Request("Loaded", 12);
            var expected = Reference(model, Tokenizer, request);

            await using var engine = await BatchingEngine.LoadAsync(folder, new EngineOptions(), CancellationToken.None);

            Assert.Equal("tiny-moe", engine.ModelId);
            Assert.True(engine.RoutedTokens.Sum(layer => layer.Sum()) > 0, "the warm-up ran through the model");
            var actual = await Collect(engine, request);
            Assert.Equal(expected.Text, actual.Text);
            Assert.Equal(expected.Finished, actual.Finished);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }

    [Fact]
    public async Task LoadAsync_names_a_missing_folder()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"nexus-missing-{Guid.NewGuid():N}");
        var error = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => BatchingEngine.LoadAsync(missing, new EngineOptions(), CancellationToken.None));
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Options_out_of_range_are_refused_naming_the_option()
    {
        Assert.Contains("MaxBatchSize", Assert.Throws<ArgumentException>(() => new EngineOptions { MaxBatchSize = 0 }.Validate()).Message);
        Assert.Contains("QueueCapacity", Assert.Throws<ArgumentException>(() => new EngineOptions { QueueCapacity = 0 }.Validate()).Message);
        Assert.Contains("ContextTokens", Assert.Throws<ArgumentException>(() => new EngineOptions { ContextTokens = 1 }.Validate()).Message);
        Assert.Contains("Threads", Assert.Throws<ArgumentException>(() => new EngineOptions { Threads = -1 }.Validate()).Message);
        new EngineOptions().Validate();
    }
}
