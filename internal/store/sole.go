package store

// SoleTick is EngineStore.SoleSender's judgement of one tick, the same for
// every driver: the lease's row as read under its lock (holder, "" when
// free, and its expiry), the process me, whether it wants the lease,
// whether another process may be sending, and the instant of the judgement
// (unix ms, as the driver's clock has it). It returns the state and, when
// write, the row to write (holder and expiry; holder "" frees it).
func SoleTick(holder string, expiresAt int64, me string, want, othersMaySend bool, now, ttl, grace int64) (st SoleState, newHolder string, newExpires int64, write bool) {
	switch {
	case holder == me && !want:
		return SoleFree, "", 0, true
	case holder == me && othersMaySend:
		return SoleYielding, "", 0, false
	case holder == me:
		return SoleHeld, me, now + ttl, true
	case holder != "" && expiresAt+grace > now:
		return SoleOther, "", 0, false
	case want && !othersMaySend:
		return SoleHeld, me, now + ttl, true
	default:
		return SoleFree, "", 0, false
	}
}
