// SPDX-License-Identifier: GPL-2.0
// The sensor with one fentry and one fexit program per system call, on the kernel function of
// the call (`__x64_sys_<name>`, chosen in src/hooks.rs). Loaded instead of sensor.bpf.o when the
// kernel allows fentry and few calls are selected: only the selected calls' functions are hooked,
// so the other calls pay nothing (raw_syscalls tracepoints run for every call). Unused programs
// are never loaded into the kernel.
//
// The programs are generated for every x86_64 syscall of the catalog (HOOKS below; the unit test
// `hooks::tests::the_fentry_object_has_programs_for_every_catalog_syscall` keeps the list in
// sync). Each calls one shared subprogram, so the object holds one copy of the capture code.

#include "sensor.bpf.c"

// The syscall function gets the user registers, as tp_btf/sys_enter does.
static __noinline int fentry_call(u32 id, struct pt_regs *regs)
{
	u64 desc = 0;
	struct task_state *st = 0;
	int pass = enter_filter(id, &desc, &st);
	if (!pass)
		return 0;
	u64 args[6];
	regs_args(regs, args);
	return on_enter(id, desc, pass, args, st);
}

static __noinline int fexit_call(u32 id, long ret)
{
	if (id < 512)
		note_path_moves(desc_at(id), ret);
	return on_exit(id, ret);
}

#define HOOKS(nr)                                                                                  \
	SEC("fentry")                                                                              \
	int BPF_PROG(fe_##nr, struct pt_regs *regs)                                                \
	{                                                                                          \
		return fentry_call(nr, regs);                                                      \
	}                                                                                          \
	SEC("fexit")                                                                               \
	int BPF_PROG(fx_##nr, struct pt_regs *regs, long ret)                                      \
	{                                                                                          \
		return fexit_call(nr, ret);                                                        \
	}

// clang-format off
HOOKS(0) HOOKS(1) HOOKS(2) HOOKS(3) HOOKS(4) HOOKS(5) HOOKS(6) HOOKS(7)
HOOKS(8) HOOKS(9) HOOKS(10) HOOKS(11) HOOKS(12) HOOKS(13) HOOKS(14) HOOKS(15)
HOOKS(16) HOOKS(17) HOOKS(18) HOOKS(19) HOOKS(20) HOOKS(21) HOOKS(22) HOOKS(23)
HOOKS(24) HOOKS(25) HOOKS(26) HOOKS(27) HOOKS(28) HOOKS(29) HOOKS(30) HOOKS(31)
HOOKS(32) HOOKS(33) HOOKS(34) HOOKS(35) HOOKS(36) HOOKS(37) HOOKS(38) HOOKS(39)
HOOKS(40) HOOKS(41) HOOKS(42) HOOKS(43) HOOKS(44) HOOKS(45) HOOKS(46) HOOKS(47)
HOOKS(48) HOOKS(49) HOOKS(50) HOOKS(51) HOOKS(52) HOOKS(53) HOOKS(54) HOOKS(55)
HOOKS(56) HOOKS(57) HOOKS(58) HOOKS(59) HOOKS(60) HOOKS(61) HOOKS(62) HOOKS(63)
HOOKS(64) HOOKS(65) HOOKS(66) HOOKS(67) HOOKS(68) HOOKS(69) HOOKS(70) HOOKS(71)
HOOKS(72) HOOKS(73) HOOKS(74) HOOKS(75) HOOKS(76) HOOKS(77) HOOKS(78) HOOKS(79)
HOOKS(80) HOOKS(81) HOOKS(82) HOOKS(83) HOOKS(84) HOOKS(85) HOOKS(86) HOOKS(87)
HOOKS(88) HOOKS(89) HOOKS(90) HOOKS(91) HOOKS(92) HOOKS(93) HOOKS(94) HOOKS(95)
HOOKS(96) HOOKS(97) HOOKS(98) HOOKS(99) HOOKS(100) HOOKS(101) HOOKS(102) HOOKS(103)
HOOKS(104) HOOKS(105) HOOKS(106) HOOKS(107) HOOKS(108) HOOKS(109) HOOKS(110) HOOKS(111)
HOOKS(112) HOOKS(113) HOOKS(114) HOOKS(115) HOOKS(116) HOOKS(117) HOOKS(118) HOOKS(119)
HOOKS(120) HOOKS(121) HOOKS(122) HOOKS(123) HOOKS(124) HOOKS(125) HOOKS(126) HOOKS(127)
HOOKS(128) HOOKS(129) HOOKS(130) HOOKS(131) HOOKS(132) HOOKS(133) HOOKS(134) HOOKS(135)
HOOKS(136) HOOKS(137) HOOKS(138) HOOKS(139) HOOKS(140) HOOKS(141) HOOKS(142) HOOKS(143)
HOOKS(144) HOOKS(145) HOOKS(146) HOOKS(147) HOOKS(148) HOOKS(149) HOOKS(150) HOOKS(151)
HOOKS(152) HOOKS(153) HOOKS(154) HOOKS(155) HOOKS(156) HOOKS(157) HOOKS(158) HOOKS(159)
HOOKS(160) HOOKS(161) HOOKS(162) HOOKS(163) HOOKS(164) HOOKS(165) HOOKS(166) HOOKS(167)
HOOKS(168) HOOKS(169) HOOKS(170) HOOKS(171) HOOKS(172) HOOKS(173) HOOKS(174) HOOKS(175)
HOOKS(176) HOOKS(177) HOOKS(178) HOOKS(179) HOOKS(180) HOOKS(181) HOOKS(182) HOOKS(183)
HOOKS(184) HOOKS(185) HOOKS(186) HOOKS(187) HOOKS(188) HOOKS(189) HOOKS(190) HOOKS(191)
HOOKS(192) HOOKS(193) HOOKS(194) HOOKS(195) HOOKS(196) HOOKS(197) HOOKS(198) HOOKS(199)
HOOKS(200) HOOKS(201) HOOKS(202) HOOKS(203) HOOKS(204) HOOKS(205) HOOKS(206) HOOKS(207)
HOOKS(208) HOOKS(209) HOOKS(210) HOOKS(211) HOOKS(212) HOOKS(213) HOOKS(214) HOOKS(215)
HOOKS(216) HOOKS(217) HOOKS(218) HOOKS(219) HOOKS(220) HOOKS(221) HOOKS(222) HOOKS(223)
HOOKS(224) HOOKS(225) HOOKS(226) HOOKS(227) HOOKS(228) HOOKS(229) HOOKS(230) HOOKS(231)
HOOKS(232) HOOKS(233) HOOKS(234) HOOKS(235) HOOKS(236) HOOKS(237) HOOKS(238) HOOKS(239)
HOOKS(240) HOOKS(241) HOOKS(242) HOOKS(243) HOOKS(244) HOOKS(245) HOOKS(246) HOOKS(247)
HOOKS(248) HOOKS(249) HOOKS(250) HOOKS(251) HOOKS(252) HOOKS(253) HOOKS(254) HOOKS(255)
HOOKS(256) HOOKS(257) HOOKS(258) HOOKS(259) HOOKS(260) HOOKS(261) HOOKS(262) HOOKS(263)
HOOKS(264) HOOKS(265) HOOKS(266) HOOKS(267) HOOKS(268) HOOKS(269) HOOKS(270) HOOKS(271)
HOOKS(272) HOOKS(273) HOOKS(274) HOOKS(275) HOOKS(276) HOOKS(277) HOOKS(278) HOOKS(279)
HOOKS(280) HOOKS(281) HOOKS(282) HOOKS(283) HOOKS(284) HOOKS(285) HOOKS(286) HOOKS(287)
HOOKS(288) HOOKS(289) HOOKS(290) HOOKS(291) HOOKS(292) HOOKS(293) HOOKS(294) HOOKS(295)
HOOKS(296) HOOKS(297) HOOKS(298) HOOKS(299) HOOKS(300) HOOKS(301) HOOKS(302) HOOKS(303)
HOOKS(304) HOOKS(305) HOOKS(306) HOOKS(307) HOOKS(308) HOOKS(309) HOOKS(310) HOOKS(311)
HOOKS(312) HOOKS(313) HOOKS(314) HOOKS(315) HOOKS(316) HOOKS(317) HOOKS(318) HOOKS(319)
HOOKS(320) HOOKS(321) HOOKS(322) HOOKS(323) HOOKS(324) HOOKS(325) HOOKS(326) HOOKS(327)
HOOKS(328) HOOKS(329) HOOKS(330) HOOKS(331) HOOKS(332) HOOKS(333) HOOKS(334) HOOKS(424)
HOOKS(425) HOOKS(426) HOOKS(427) HOOKS(428) HOOKS(429) HOOKS(430) HOOKS(431) HOOKS(432)
HOOKS(433) HOOKS(434) HOOKS(435) HOOKS(436) HOOKS(437) HOOKS(438) HOOKS(439) HOOKS(440)
HOOKS(441) HOOKS(442) HOOKS(443) HOOKS(444) HOOKS(445) HOOKS(446) HOOKS(447) HOOKS(448)
HOOKS(449) HOOKS(450)
// clang-format on
