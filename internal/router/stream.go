package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// stream is a chat answer that may move to another model once, when its
// backend fails before the answer asked for a tool.
type stream struct {
	r     *Router
	ctx   context.Context
	build func(Choice) (llm.Request, error)
	// vision: the request carries images, so only a model that can see
	// them may take over.
	vision bool

	cur        Candidate
	inner      llm.Stream
	running    bool // cur is counted in r.running
	start      time.Time
	ttft       time.Duration
	sawText    bool
	sawCall    bool
	retried    bool
	restart    *llm.Event // queued for the consumer
	failedOver string     // the ref of the model that failed, once it has
	err        error      // sticky end: io.EOF or the failure
}

// attach makes inner, an answer of c, the stream's source.
func (s *stream) attach(c Candidate, inner llm.Stream) {
	s.cur, s.inner, s.running, s.start, s.ttft = c, inner, true, s.r.cfg.Now(), 0
}

// Next returns the next event; see llm.Stream.
func (s *stream) Next() (llm.Event, error) {
	if s.restart != nil {
		ev := *s.restart
		s.restart = nil
		return ev, nil
	}
	if s.err != nil {
		return llm.Event{}, s.err
	}
	ev, err := s.inner.Next()
	if err == nil {
		switch ev.Kind {
		case llm.EventText, llm.EventToolCall:
			if s.ttft == 0 {
				s.ttft = max(s.r.cfg.Now().Sub(s.start), 1)
			}
			s.sawText = s.sawText || ev.Kind == llm.EventText
			s.sawCall = s.sawCall || ev.Kind == llm.EventToolCall
		case llm.EventDone:
			s.finish()
			if s.ttft == 0 {
				s.ttft = s.r.cfg.Now().Sub(s.start)
			}
			// A model loaded by this request is slow once, not slow.
			s.r.answered(s.cur, s.ttft-ev.Stats.LoadDuration)
			ev.Stats.FailedOver = s.failedOver
		}
		return ev, nil
	}
	s.finish()
	if errors.Is(err, io.EOF) || s.ctx.Err() != nil || s.retried || s.sawCall {
		s.err = err
		return llm.Event{}, err
	}
	if ferr := s.failover(s.cur, err); ferr != nil {
		s.err = ferr
		return llm.Event{}, ferr
	}
	return s.Next()
}

// failover records the failure of failed and restarts the answer on the
// next model, queueing an llm.EventRestart for the consumer. It returns the
// error to report when no other model can take over.
func (s *stream) failover(failed Candidate, err error) error {
	s.retried = true
	away, reason := s.r.failed(failed, err)
	next, ferr := s.r.fallback(s.ctx, failed, err, s.vision)
	if ferr != nil {
		return fmt.Errorf("%w; no other model could take over: %w", err, ferr)
	}
	inner, ctxLen, serr := s.r.start(s.ctx, next, s.build)
	if serr != nil {
		return fmt.Errorf("%w; %s could not take over either: %w", err, next.Ref(), serr)
	}
	if away {
		s.r.setActive(next, CauseFailure, reason)
	}
	s.r.cfg.Log.Warn().Str("from", failed.Ref()).Str("to", next.Ref()).Err(err).Msg("answer moved to another model")
	how := "continuing with"
	if s.sawText || s.sawCall {
		how = "starting the answer again with"
	}
	s.restart = &llm.Event{
		Kind: llm.EventRestart,
		Text: fmt.Sprintf("%s %s; %s %s.", failed.Ref(), shortReason(err), how, next.Ref()),
		Restart: llm.Restart{
			From: failed.Ref(), To: next.Ref(), ContextLength: ctxLen, Discarded: s.sawText || s.sawCall,
		},
	}
	s.failedOver = failed.Ref()
	s.sawText, s.sawCall = false, false
	s.attach(next, inner)
	return nil
}

// shortReason says in a few words what went wrong, for the notice.
func shortReason(err error) string {
	switch {
	case errors.Is(err, llm.ErrUnreachable):
		return "is not reachable"
	case errors.Is(err, llm.ErrStreamTruncated):
		return "stopped in the middle of the answer"
	case errors.Is(err, llm.ErrModelNotFound):
		return "is no longer installed"
	case errors.Is(err, llm.ErrUnauthorized):
		return "refused the API token"
	case errors.Is(err, ErrNoModel):
		return "no longer fits in memory"
	}
	return "failed"
}

func (s *stream) finish() {
	if s.running {
		s.running = false
		s.inner.Close()
		s.r.end(s.cur)
	}
}

// Close ends the stream and its request.
func (s *stream) Close() error {
	if s.err == nil {
		s.err = errors.New("chat: stream closed")
	}
	s.finish()
	return nil
}
